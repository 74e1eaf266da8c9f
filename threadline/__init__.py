"""threadline: keeps work orders and purchase orders linked, costed and traceable across ERP, CMMS and MES."""

__version__ = "0.1.0"
