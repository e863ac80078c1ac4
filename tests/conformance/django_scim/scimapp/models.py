"""The user and group models django-scim2's documentation asks for: Django's user with the SCIM fields, and a
group whose members are the users' `scim_groups`."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django_scim.models import AbstractSCIMGroupMixin, AbstractSCIMUserMixin


class Group(AbstractSCIMGroupMixin):
    name = models.CharField(max_length=150, unique=True)

    class Meta:
        app_label = "scimapp"


class User(AbstractSCIMUserMixin, AbstractUser):
    scim_groups = models.ManyToManyField(Group, related_name="user_set", blank=True)

    class Meta:
        app_label = "scimapp"
