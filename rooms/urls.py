from django.urls import path

from rooms import views

app_name = "rooms"
urlpatterns = [
    path("", views.room_list, name="list"),
    path("<slug:slug>/", views.room_detail, name="detail"),
    path("<slug:slug>/join/", views.room_join_view, name="join"),
]
