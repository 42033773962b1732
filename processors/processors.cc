// Domain projections; see processors/README.md.
