"""Guest access: SSH key pairs, passwords, user data, the config drive, ISOs on a VM's CD-ROM."""
