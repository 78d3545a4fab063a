#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs an errno-style call, retrying on `EINTR`, and throws a ``LogError`` naming the call when it fails.
///
/// Every system call of the log goes through here so a failure always says which call, which file and why.
@discardableResult
@inline(__always)
func systemCall<Result: BinaryInteger>(
    _ name: StaticString,
    path: String? = nil,
    _ body: () -> Result
) throws(LogError) -> Result {
    while true {
        let result = body()
        if result != -1 { return result }
        let code = errno
        if code == EINTR { continue }
        var error = LogError(code: code == ENOSPC ? .belowDiskFloor : .systemCallFailed, message: "system call failed")
        error.systemCall = "\(name)"
        error.errno = code
        error.path = path
        throw error
    }
}
