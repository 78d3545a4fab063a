// Filled by its issue; the module exists so the package layout is complete.
