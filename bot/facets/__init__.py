"""Structured facts of a posting (salary, remote scope, seniority, employment) and facet filters.

Pure functions and dataclasses only: strings, numbers and datetimes in, dataclasses out.
"""
