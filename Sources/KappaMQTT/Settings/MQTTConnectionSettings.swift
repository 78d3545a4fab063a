import Foundation

/// The broker settings as an operator gives them (text, from a flag, an environment variable or a file), and
/// the one set of rules that turns them into an ``MQTTConfiguration``. `kappa run` and `kappa-sim` both
/// resolve through it, so the same URL, user, password (or password file), protocol, keepalive and TLS
/// files reach the same broker the same way. Where each text came from is the caller's business: a failure
/// names the ``Field``, and the caller says which flag, variable or file line that was.
public struct MQTTConnectionSettings: Sendable, Equatable {
    public enum Field: String, Sendable, CaseIterable {
        case url, username, password, passwordFile, protocolVersion, keepAlive, tlsCAFile, tlsCertificateFile, tlsKeyFile
    }

    /// A password never comes from a command line: it is given itself (an environment variable), or as a
    /// file whose first line it is.
    public enum Password: Sendable, Equatable {
        case text(String)
        case file(path: String)
    }

    /// `mqtt://[user@]host[:port]` or `mqtts://…`.
    public var url: String
    /// Overrides a user in the URL.
    public var username: String?
    public var password: Password?
    /// `3.1.1` (also `311`, `3`) or `5` (`5.0`); nil: 3.1.1.
    public var protocolVersion: String?
    /// Whole seconds, 5 to 65 535; nil: the configuration's default.
    public var keepAlive: String?
    /// PEM files; any of them turns TLS on, as does an `mqtts://` URL.
    public var tlsCAFile: String?
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?

    public init(
        url: String, username: String? = nil, password: Password? = nil, protocolVersion: String? = nil, keepAlive: String? = nil,
        tlsCAFile: String? = nil, tlsCertificateFile: String? = nil, tlsKeyFile: String? = nil
    ) {
        self.url = url
        self.username = username
        self.password = password
        self.protocolVersion = protocolVersion
        self.keepAlive = keepAlive
        self.tlsCAFile = tlsCAFile
        self.tlsCertificateFile = tlsCertificateFile
        self.tlsKeyFile = tlsKeyFile
    }

    /// The configuration these settings describe; checks run in the order of the fields, so the first
    /// problem reported is the same whoever resolves.
    public func resolve() throws(MQTTSettingsError) -> MQTTConfiguration {
        var mqtt: MQTTConfiguration
        do { mqtt = try MQTTConfiguration(url: url) } catch { throw MQTTSettingsError(.url, "\(error)") }
        if let username { mqtt.username = username }
        if let password {
            switch password {
            case .text(let text):
                mqtt.password = text
            case .file(let path):
                mqtt.password = try Self.firstLine(ofPasswordFile: path)
            }
            if mqtt.username == nil {
                throw MQTTSettingsError(password.field, "a broker password needs a user name (mqtt://user@host or mqtt.username)")
            }
        }
        if let protocolVersion {
            switch protocolVersion {
            case "3.1.1", "311", "3": mqtt.protocolVersion = .v311
            case "5", "5.0": mqtt.protocolVersion = .v5
            default: throw MQTTSettingsError(.protocolVersion, "use 3.1.1 or 5, not '\(protocolVersion)'")
            }
        }
        if let keepAlive {
            let range = 5...65_535
            guard let seconds = Int(keepAlive.trimmingCharacters(in: .whitespaces)) else {
                throw MQTTSettingsError(.keepAlive, "must be a whole number, not '\(keepAlive)'")
            }
            guard range.contains(seconds) else {
                throw MQTTSettingsError(.keepAlive, "must be between \(range.lowerBound) and \(range.upperBound), not \(seconds)")
            }
            mqtt.keepAlive = .seconds(seconds)
        }
        if tlsCAFile != nil || tlsCertificateFile != nil || tlsKeyFile != nil || mqtt.tls != nil {
            if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
                throw MQTTSettingsError(tlsCertificateFile == nil ? .tlsKeyFile : .tlsCertificateFile, "a client certificate needs both mqtt.tls.cert_file and mqtt.tls.key_file")
            }
            mqtt.tls = MQTTConfiguration.TLS(caFile: tlsCAFile, certificateFile: tlsCertificateFile, keyFile: tlsKeyFile)
        }
        return mqtt
    }

    /// The first line, so that a trailing newline from `echo` is not part of the password.
    private static func firstLine(ofPasswordFile path: String) throws(MQTTSettingsError) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw MQTTSettingsError(.passwordFile, "cannot read the password file \(path)")
        }
        return text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
    }
}

extension MQTTConnectionSettings.Password {
    var field: MQTTConnectionSettings.Field {
        switch self {
        case .text: .password
        case .file: .passwordFile
        }
    }
}

/// A broker setting that cannot be used: which one, and why (never the password itself).
public struct MQTTSettingsError: Error, Sendable, CustomStringConvertible {
    public var field: MQTTConnectionSettings.Field
    public var message: String

    public init(_ field: MQTTConnectionSettings.Field, _ message: String) {
        self.field = field
        self.message = message
    }

    public var description: String { "\(field.rawValue): \(message)" }
}
