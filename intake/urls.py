from intake.views import channels, checklist, details, messages, receive, records, viewer

app_name = "intake"

# Included under /requests/ before workflow's URLs, so "new/" is not read as a tracking number.
urlpatterns = [
    *receive.urlpatterns,
    *messages.urlpatterns,
    *details.urlpatterns,
    *checklist.urlpatterns,
    *records.urlpatterns,
    *channels.urlpatterns,
    *viewer.urlpatterns,
]
