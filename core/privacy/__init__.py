"""Patients' rights over their data: export, erasure, and backups that respect erasure."""
