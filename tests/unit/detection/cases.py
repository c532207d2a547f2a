"""Example messages for the detector's tests, written for the tests (not taken from the
development set). Each case: (text, expected level, a rule id that must be in the
evidence or None). Keep them free of method detail."""

from __future__ import annotations

# One or more examples for every rule of data/lexicon.toml; test_rules.py checks that
# every rule id appears here, so a new rule arrives with its example.
RULE_CASES: list[tuple[str, str, str | None]] = [
    # suicide: attempts under way, final messages
    ("i'm doing it right now", "imminent", "suicide.attempt_now"),
    ("the pills are kicking in, i'm sorry", "imminent", "suicide.attempt_now"),
    ("i swallowed the whole bottle of my sleeping pills", "imminent", "suicide.overdose_taken"),
    ("by the time anyone reads this i'll be gone", "imminent", "suicide.final_message"),
    ("this is my final goodbye to everyone here", "imminent", "suicide.final_message"),
    ("you won't hear from me again", "imminent", "suicide.final_message"),
    ("i wont be alive by the weekend", "imminent", "suicide.final_message"),
    # farewell cues only count with other risk language
    ("i can't keep going. thank you all for everything", "imminent", "suicide.farewell"),
    ("goodbye everyone. tell my sister i love her", "imminent", "suicide.farewell_personal"),
    # intent, plans, means, time, place, possessions
    ("i'm going to end my life", "high", "suicide.intent"),
    ("going to kill myself on friday", "imminent", "combo.suicide_intent_with_time"),
    ("i'm going to take them all", "imminent", "suicide.overdose_intent"),
    ("i'm going to end my life tomorrow morning", "imminent", "suicide.time"),
    ("i want to die and i have a plan", "imminent", "suicide.plan"),
    ("my plan is set and i know how and when", "high", "suicide.plan_definite"),
    ("picked the date to die, it's next sunday", "imminent", "combo.plan_with_time"),
    ("i wanna die. tonight's the night", "imminent", "suicide.resolve"),
    ("i want to be dead. i'm doing it after dinner", "imminent", "suicide.act_vague"),
    ("the rope is tied", "imminent", "suicide.means_ready"),
    ("i've got the gun here with me", "high", "suicide.means_lethal"),
    ("i want to die and the pills are next to me", "imminent", "suicide.means"),
    ("been stockpiling my prescription for months", "high", "suicide.means_gathered"),
    ("there are 30 of them counted out in front of me", "high", "suicide.means_counted"),
    ("i'm at the bridge and i can't do this anymore", "imminent", "suicide.place"),
    ("sitting on the ledge of the balcony", "imminent", "suicide.place_edge"),
    ("gave my cat to my aunt. i just want to die", "imminent", "suicide.possessions"),
    ("tying up loose ends before friday", "imminent", "suicide.affairs"),
    # wishes and thoughts
    ("i wish i could fall asleep and never wake up", "high", "suicide.wish"),
    ("everybody would be better off without me", "high", "suicide.better_off"),
    ("it would be so easy to just let go", "high", "suicide.wish_general"),
    ("i keep thinking about killing myself", "high", "suicide.thoughts"),
    ("i honestly want to die", "high", None),
    ("i just want to disappear", "high", "suicide.thoughts_weak"),
    # self-harm
    ("i cut way too deep and it won't stop bleeding", "imminent", "self_harm.injury_now"),
    ("there is so much blood and i did this to myself", "imminent", "self_harm.injury_blood"),
    ("burned myself again last night", "high", "self_harm.act"),
    ("the urge to self harm is so strong", "high", "self_harm.urge"),
    # harm to others
    ("i'll use it on him when he gets back", "imminent", "harm_to_others.plan"),
    ("i'm going to hurt my brother", "high", "harm_to_others.intent"),
    ("i keep imagining hurting my boss", "high", "harm_to_others.thoughts"),
    ("i'm going to hurt him, got a knife in my bag", "imminent", "harm_to_others.weapon"),
    ("i know where he lives and i'm going to hurt him", "imminent", "harm_to_others.target"),
    ("i'm going to beat him up, not joking", "imminent", "harm_to_others.serious"),
    ("you should kill yourself", "watch", "harm_to_others.abuse_words"),
    ("he is going to pay for what he did, tonight", "imminent", "harm_to_others.threat"),
    # abuse
    ("he is hitting me right now", "imminent", "abuse.attack_now"),
    ("my dad hits me and now i'm locked in my room", "imminent", "abuse.trapped_now"),
    ("my partner locks me in when we fight", "high", "abuse.trapped"),
    ("he hit me again and now he's looking for me", "imminent", "abuse.pursued"),
    ("my stepdad slapped me again this morning", "high", "abuse.ongoing"),
    ("i don't feel safe at home", "high", "abuse.ongoing"),
    # substance
    ("i think i'm overdosing", "imminent", "substance.overdose"),
    (
        "took way more than i meant to and my lips are turning blue",
        "imminent",
        "substance.intake_excess",
    ),
    ("used too much and now i can't stand up", "imminent", "substance.symptom"),
    ("cravings are brutal today", "watch", "substance.use"),
    # distress
    ("i feel completely hopeless", "watch", "distress.hopeless"),
    ("i'm so lonely lately", "watch", "distress.low"),
]

# Evasions: the same meaning behind spellings people use to get past filters.
EVASION_CASES: list[tuple[str, str]] = [
    ("i w@nt t0 d1e", "high"),
    ("su1c1dal again", "high"),
    ("5uicidal thoughts", "high"),
    ("s*icidal thoughts", "high"),
    ("i want to k*ll myself", "high"),
    ("k m s", "high"),
    ("k.m.s", "high"),
    ("i want to d-i-e", "high"),
    ("i w a n t t o d i e", "high"),
    ("i want to diiiiie", "high"),
    ("i wanna kiiiill myself", "high"),
    ("ＩＭ ＳＵＩＣＩＤＡＬ", "high"),
    ("і аm suісіdаl", "high"),  # Cyrillic look-alikes
    ("i'm suicidal", "high"),
    ("im suicidal", "high"),
    ("i’m suicidal", "high"),
    ("i am sucidal", "high"),
    ("thinking about sewer slide", "high"),
    ("thinking about s3wer sl1de", "high"),
    ("i want to unalive myself", "high"),
    ("wanna ctb", "high"),
    ("kms fr", "high"),
    ("gonna kms 2nite", "imminent"),
    ("i wish i could sleep forever 🪦", "high"),
    ("relapsed on s/h last night", "high"),
    ("i want to self-harm", "high"),
]

# Hard negatives: crisis words in messages with no risk to anyone.
NEGATIVE_CASES: list[str] = [
    "this queue is killing me",
    "my phone died again",
    "i'd kill for a pizza right now",
    "that stand-up set absolutely killed",
    "lmao i'm dead 💀 that video",
    "i could murder a burrito",
    "we died like ten times on the last boss lol",
    "headshot from across the map, gg",
    "the main character overdoses in the second book",
    "that documentary about suicide prevention was good",
    "i'm not suicidal, just really tired from work",
    "i would never hurt myself, promise",
    "no self harm for 3 years today!",
    "i used to cut in high school but that's years behind me",
    "two years ago i tried to end my life, now i'm a peer mentor and doing well",
    "how do i support a friend who says she wants to die?",
    "where can i find a crisis line for teens?",
    "my therapist asked if i had thoughts of hurting myself and i said no",
    "our training covered what to do if someone is suicidal",
    "gonna miss you all, moving to the thursday group. goodbye!",
    "giving away my old books, anyone want them?",
    "my mom is going to kill me when she sees this haircut lol",
    "my battery is dead and so am i lol",
    "took my meds this morning like usual",
    "i'm dying to see that movie",
    "coach made us run suicides, i'm wrecked",
    "is 'unalive' a real word? i keep seeing it",
    "i'd rather die than sing karaoke lol",
    "i nearly killed myself laughing",
]
