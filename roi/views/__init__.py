"""The roi app's pages, one module per part: health and error pages (`health`), the landing page and organisation
switcher (`home`), notifications, tenant admins' staff pages (`staff`), the user's two-factor pages (`two_factor`)
and integration clients with their API tokens (`integrations`)."""
