"""Sample karyograms: composed from real cells or drawn from the ISCN ideogram."""
