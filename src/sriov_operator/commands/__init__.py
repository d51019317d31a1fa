"""One module per ``sriov-operator`` sub-command (see ``sriov_operator.cli``)."""
