"""The demo landscape: a seeded brownfield plant with two sites, its legacy systems and planted defects.

``build_landscape`` writes a JD Edwards database (site NORTH), a legacy ERP web service's data and
WSDL (site SOUTH), a Maximo database and an MES outbox of B2MML files (both sites), a working
``threadline.yaml`` and a manifest of every finding the rules must produce. ``start_erp_service``
serves the legacy ERP over SOAP on 127.0.0.1.
"""

from __future__ import annotations

from threadline.demo.erp_service import ErpService, start_erp_service
from threadline.demo.landscape import Landscape, build_landscape
from threadline.demo.plant import AS_OF, Plant, generate_plant

__all__ = ["AS_OF", "ErpService", "Landscape", "Plant", "build_landscape", "generate_plant", "start_erp_service"]
