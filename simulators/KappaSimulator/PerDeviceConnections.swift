#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What one connection per device costs and how many devices may have one: each connection is a socket,
/// libmosquitto's wake-up socket pair and a network thread of its own.
public enum PerDeviceConnections {
    /// Beyond this, a fleet should share connections (`--connections N`): thousands of threads on a small
    /// machine measure the scheduler, not the gateway.
    public static let maximumDevices = 2_000
    static let descriptorsPerConnection = 3
    /// Left for everything else the process opens (labels file, standard streams, libraries).
    static let descriptorsReserved = 64

    /// Checks that `devices` connections fit, raising the soft limit on open files up to the hard limit if
    /// needed; throws `invalidOption` with the numbers when they do not.
    public static func reserve(devices: Int) throws {
        guard devices <= maximumDevices else {
            throw SimulatorError(
                code: .invalidOption,
                message: "one connection per device is for fleets of up to \(maximumDevices) devices, not \(devices) (each needs a socket pair, a socket and a thread); use --connections N"
            )
        }
        let needed = rlim_t(devices * descriptorsPerConnection + descriptorsReserved)
        var limit = rlimit()
        guard getrlimit(resourceOpenFiles, &limit) == 0 else { return }
        guard limit.rlim_cur < needed else { return }
        if limit.rlim_max >= needed {
            var raised = limit
            raised.rlim_cur = needed
            if setrlimit(resourceOpenFiles, &raised) == 0 { return }
        }
        throw SimulatorError(
            code: .invalidOption,
            message: "\(devices) connections need about \(needed) open files, but the limit is \(limit.rlim_cur) (hard \(limit.rlim_max)); raise it with 'ulimit -n' or use --connections N"
        )
    }

    #if os(Linux)
    private static let resourceOpenFiles = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
    #else
    private static let resourceOpenFiles = RLIMIT_NOFILE
    #endif
}
