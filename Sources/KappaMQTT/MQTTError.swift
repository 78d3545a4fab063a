/// An MQTT failure: what went wrong, with libmosquitto's code and text where it came from the library.
public struct MQTTError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure. A struct rather than an enum so that new codes do not break callers.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// libmosquitto returned an error code (see `libraryCode`).
        public static let library = Code("library")
        /// The broker refused the connection (see `reasonCode`).
        public static let connectionRefused = Code("connectionRefused")
        /// The broker refused a subscription.
        public static let subscriptionRefused = Code("subscriptionRefused")
        public static let invalidConfiguration = Code("invalidConfiguration")
        /// The client was shut down while the operation waited.
        public static let shutDown = Code("shutDown")
        public static let timedOut = Code("timedOut")

        public var description: String { name }
    }

    public var code: Code
    /// libmosquitto's `MOSQ_ERR_*` value, where the failure came from a library call.
    public var libraryCode: Int32?
    /// The MQTT reason code (CONNACK, SUBACK), where the broker said no.
    public var reasonCode: Int32?
    /// A sentence saying what failed; never contains passwords or payloads.
    public var message: String

    public init(code: Code, libraryCode: Int32? = nil, reasonCode: Int32? = nil, message: String) {
        self.code = code
        self.libraryCode = libraryCode
        self.reasonCode = reasonCode
        self.message = message
    }

    public var description: String {
        var text = "MQTT \(code): \(message)"
        if let libraryCode { text += " (libmosquitto \(libraryCode))" }
        if let reasonCode { text += " (reason code \(reasonCode))" }
        return text
    }
}
