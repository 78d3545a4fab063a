import CMosquitto

/// Owns one `struct mosquitto *`, the only place where it is created and destroyed.
final class MosquittoHandle: @unchecked Sendable {
    // @unchecked: libmosquitto guards the handle's state with its own mutexes once `mosquitto_threaded_set(true)`
    // is on, which `make` does; publish, subscribe and disconnect may then be called from any thread.
    let pointer: OpaquePointer

    private init(pointer: OpaquePointer) {
        self.pointer = pointer
    }

    static func make(clientID: String?, cleanSession: Bool) throws -> MosquittoHandle {
        _ = mosquittoLibraryInitialized
        guard let pointer = mosquitto_new(clientID, cleanSession, nil) else {
            // mosquitto_new sets errno: EINVAL for a missing id with a persistent session, ENOMEM otherwise.
            let reason = errno == EINVAL
                ? "a persistent session (clean session off) needs a client id"
                : "out of memory"
            throw MQTTError(code: .invalidConfiguration, message: "mosquitto_new: \(reason)")
        }
        let handle = MosquittoHandle(pointer: pointer)
        try MosquittoConnection.check(mosquitto_threaded_set(pointer, true), "mosquitto_threaded_set")
        return handle
    }

    deinit {
        mosquitto_destroy(pointer)
    }
}

/// `mosquitto_lib_init` once per process, before the first handle; Swift runs a global's initialiser once,
/// thread-safely, on first use.
let mosquittoLibraryInitialized: Bool = {
    mosquitto_lib_init()
    return true
}()

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
