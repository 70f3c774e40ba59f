"""Spreadsheets in and out: CSV (UTF-8, UTF-8 with BOM, GBK from Excel and WPS) and .xlsx,
for items, supplies and members. A dry run reports every bad row; an import writes all
rows or none."""
