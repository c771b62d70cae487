"""Registry model of each Windows feature: paths, value names, types and desired-state builders.

Every registry fact of the collection lives in this package (one place for each fact). The
PowerShell modules on Windows read and write exactly what this code asks for.
"""
