from chat.routing import websocket_urlpatterns as chat_patterns
from moderation.routing import websocket_urlpatterns as moderation_patterns

websocket_urlpatterns = [*chat_patterns, *moderation_patterns]
