// Keeps jiritsu_testing non-empty before shared fixtures exist.
