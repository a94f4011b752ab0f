from fulfillment.views import delivery, denials, disclosures, fees, gate, packets, qc, retrieval, viewer

app_name = "fulfillment"

# Included under /requests/ before workflow's URLs; every page here is a request's (…/<tracking_number>/…) or an
# admin page of the tenant's fulfillment settings.
urlpatterns = [
    *retrieval.urlpatterns,
    *packets.urlpatterns,
    *qc.urlpatterns,
    *delivery.urlpatterns,
    *fees.urlpatterns,
    *disclosures.urlpatterns,
    *denials.urlpatterns,
    *gate.urlpatterns,
    *viewer.urlpatterns,
]
