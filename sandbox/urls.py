from django.urls import path

from sandbox import views

app_name = "sandbox"

urlpatterns = [
    path("", views.index, name="index"),
    path("login/", views.login, name="login"),
    path("logout/", views.logout, name="logout"),
    path("upload/", views.upload, name="upload"),
    path("posts/<int:post_id>/", views.post_detail, name="post_detail"),
    path("@<slug:handle>/posts/", views.account_posts, name="account_posts"),
    path("@<slug:handle>/posts.json", views.account_posts_json, name="account_posts_json"),
]
