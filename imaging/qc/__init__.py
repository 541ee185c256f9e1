"""Quality control: pure rules (rules/), the ORM adapter, services, selectors, pages and API."""
