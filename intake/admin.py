"""Platform data a platform operator maintains: the states' consent rules for sensitive categories."""

from django.contrib import admin

from intake.models import ConsentRule


@admin.register(ConsentRule)
class ConsentRuleAdmin(admin.ModelAdmin):
    list_display = ["jurisdiction", "category", "citation", "not_needed_for", "verified", "is_active"]
    list_filter = ["jurisdiction", "category", "verified", "is_active"]
