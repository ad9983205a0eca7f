"""SCORM 2004 sequencing and navigation (3rd and 4th Ed): definitions read from the manifest, one
learner's tracking state, and the SN book's processes over them. Pure: no I/O, no framework."""
