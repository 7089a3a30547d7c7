package sdnotify

import (
	"math"
	"strconv"
	"strings"
	"syscall"
)

// maxPathLen is the size of sun_path in struct sockaddr_un on Linux.
// libsystemd insists on a terminating NUL, so a name may use one byte less.
const maxPathLen = 108

// Special vsock context IDs, as named by libsystemd.
const (
	vsockCIDHypervisor = 0
	vsockCIDLocal      = 1
	vsockCIDHost       = 2
	vsockCIDAny        = 1<<32 - 1
	vsockPortAny       = 1<<32 - 1
)

type family uint8

const (
	familyUnix family = iota + 1
	familyVsock
)

// sockType is the socket type of a vsock address, in a portable form.
type sockType uint8

const (
	typeAuto      sockType = iota // "vsock:": datagram, then seqpacket, then stream
	typeDgram                     // "vsock-dgram:"
	typeSeqpacket                 // "vsock-seqpacket:"
	typeStream                    // "vsock-stream:"
)

var vsockPrefixes = [...]struct {
	prefix string
	typ    sockType
}{
	{"vsock:", typeAuto},
	{"vsock-dgram:", typeDgram},
	{"vsock-seqpacket:", typeSeqpacket},
	{"vsock-stream:", typeStream},
}

// address is a parsed NOTIFY_SOCKET value.
type address struct {
	family family
	name   string // familyUnix: "/path" or "@abstract"
	cid    uint32 // familyVsock
	port   uint32 // familyVsock
	typ    sockType
}

// String formats a in NOTIFY_SOCKET syntax. Parsing the result gives a
// again; vsock context IDs are always formatted as numbers.
func (a address) String() string {
	if a.family == familyUnix {
		return a.name
	}
	for _, p := range vsockPrefixes {
		if p.typ == a.typ {
			return p.prefix + strconv.FormatUint(uint64(a.cid), 10) + ":" + strconv.FormatUint(uint64(a.port), 10)
		}
	}
	return ""
}

// An AddressError reports an address, from NOTIFY_SOCKET or given to
// NewAddr, that libsystemd would refuse. Nothing is sent anywhere when the
// address is invalid.
type AddressError struct {
	Source string // where the address came from: "NOTIFY_SOCKET" or "NewAddr"
	Addr   string // the value as given
	Reason string // what is wrong with it
	Err    error  // the errno libsystemd returns for it: EPROTO, EINVAL, ERANGE or ENAMETOOLONG
}

// Error names the source, the value and what is wrong with it:
//
//	sdnotify: NOTIFY_SOCKET="run/notify": neither an absolute path, nor ...
//	sdnotify: NewAddr("run/notify"): neither an absolute path, nor ...
func (e *AddressError) Error() string {
	if e.Source == envSocket || e.Source == "" {
		return "sdnotify: NOTIFY_SOCKET=" + quote(e.Addr) + ": " + e.Reason
	}
	return "sdnotify: " + e.Source + "(" + quote(e.Addr) + "): " + e.Reason
}

// Unwrap returns the errno, so that errors.Is(err, syscall.EINVAL) works.
func (e *AddressError) Unwrap() error { return e.Err }

func addrError(addr string, errno syscall.Errno, reason string) *AddressError {
	return &AddressError{Source: envSocket, Addr: addr, Reason: reason, Err: errno}
}

// parseAddress parses a NOTIFY_SOCKET value by libsystemd's rules: an
// absolute path, an abstract name starting with '@', or a vsock address
// "vsock[-dgram|-seqpacket|-stream]:CID:PORT". It refuses what libsystemd
// refuses, with the same errno. source says where s came from, for the
// error.
func parseAddress(s, source string) (address, error) {
	a, err := parseAddr(s)
	if err != nil {
		err.(*AddressError).Source = source
	}
	return a, err
}

func parseAddr(s string) (address, error) {
	if s == "" {
		return address{}, addrError(s, syscall.EPROTO, "empty address")
	}
	if s[0] == '/' || s[0] == '@' {
		return parseUnix(s)
	}
	for _, p := range vsockPrefixes {
		if rest, ok := strings.CutPrefix(s, p.prefix); ok {
			return parseVsock(s, rest, p.typ)
		}
	}
	return address{}, addrError(s, syscall.EPROTO, "neither an absolute path, nor an @abstract name, nor a vsock: address")
}

func parseUnix(s string) (address, error) {
	if len(s) < 2 {
		return address{}, addrError(s, syscall.EINVAL, "no name after "+quote(s[:1]))
	}
	if i := strings.IndexByte(s, 0); i >= 0 {
		return address{}, addrError(s, syscall.EINVAL, "NUL byte at offset "+itoa(i))
	}
	if len(s)+1 > maxPathLen {
		reason := itoa(len(s)) + " bytes long; a socket name holds at most " + itoa(maxPathLen-1)
		if s[0] == '@' {
			return address{}, addrError(s, syscall.EINVAL, "abstract name "+reason)
		}
		return address{}, addrError(s, syscall.ENAMETOOLONG, "path "+reason)
	}
	return address{family: familyUnix, name: s}, nil
}

func parseVsock(s, rest string, typ sockType) (address, error) {
	// strings.IndexByte rather than strings.Cut, which would bring in the
	// general substring search.
	i := strings.IndexByte(rest, ':')
	if i < 0 {
		return address{}, addrError(s, syscall.EINVAL, "vsock address without a port (want vsock:CID:PORT)")
	}
	cidText, portText := rest[:i], rest[i+1:]
	port, ok := parseUint32(portText)
	if !ok {
		return address{}, addrError(s, outOfRange(portText), "vsock port "+quote(portText)+" is not a decimal number from 0 to 4294967294")
	}
	if port == vsockPortAny {
		return address{}, addrError(s, syscall.EINVAL, "vsock port 4294967295 means any port; a notification needs a specific one")
	}
	var cid uint32
	switch cidText {
	case "hypervisor":
		cid = vsockCIDHypervisor
	case "local":
		cid = vsockCIDLocal
	case "host":
		cid = vsockCIDHost
	case "", "any", "-1":
		cid = vsockCIDAny
	default:
		if cid, ok = parseUint32(cidText); !ok {
			return address{}, addrError(s, outOfRange(cidText), "vsock CID "+quote(cidText)+" is not a number or hypervisor, local, host")
		}
	}
	if cid == vsockCIDAny {
		return address{}, addrError(s, syscall.EINVAL, "vsock address without a specific CID")
	}
	return address{family: familyVsock, cid: cid, port: port, typ: typ}, nil
}

// parseUint32 parses a plain decimal number up to 2^32-1 (see
// parseDecimal).
func parseUint32(s string) (uint32, bool) {
	v, ok := parseDecimal(s)
	if !ok || v > 1<<32-1 {
		return 0, false
	}
	return uint32(v), true
}

// outOfRange returns the errno libsystemd gives for a vsock number that
// parseUint32 refused: ERANGE for a decimal number, negative or over
// 2^32-1 (safe_atou's range), EINVAL for anything else.
func outOfRange(s string) syscall.Errno {
	digits := strings.TrimPrefix(s, "-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" || digits[0] == '0' {
		return syscall.EINVAL
	}
	return syscall.ERANGE
}

// parseDecimal accepts plain decimal digits only: no sign, no spaces, no
// leading zeros, nothing that C's strtoul with base 0 could read as octal
// or hex, or that two parsers could read differently.
func parseDecimal(s string) (uint64, bool) {
	if s == "" || len(s) > 1 && s[0] == '0' {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	var v uint64
	for i := 0; i < len(s); i++ {
		d := uint64(s[i] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}
