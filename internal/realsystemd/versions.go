package realsystemd

// Versions are the systemd versions the real-systemd suite runs every
// scenario on, oldest first: the host's (Debian 12), the bookworm-backports
// build, Debian trixie's and Debian sid's. Tests iterate over this list.
var Versions = []string{"252", "254", "257", "262"}
