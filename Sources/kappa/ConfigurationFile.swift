import Foundation
import Yams

/// `kappa run --config FILE`: the same settings as the flags and environment, in YAML, lowest precedence.
///
/// ```yaml
/// mqtt:
///   url: mqtt://gateway@broker.example:1883
///   client_id: kappa-gateway-1
///   share_group: kappa            # several gateways split one stream
///   qos: 1
///   protocol: "5"                 # or "3.1.1"
///   keepalive_seconds: 30
///   password_file: /etc/kappa/mqtt-password
///   tls: { ca_file: /etc/kappa/ca.pem, cert_file: /etc/kappa/client.pem, key_file: /etc/kappa/client.key }
/// topics:
///   - { template: "devices/{device}/telemetry", format: json }
///   - { template: "sites/{site}/{device}/{metric}", format: number }
///   - { template: "influx/{device}", format: line_protocol }
/// data_dir: /var/lib/kappa
/// log: { partitions: 8, fsync: interval, disk_floor_mb: 256, retention_hours: 168 }
/// database: { url: "postgres://kappa@db.example/kappa", password_file: /etc/kappa/db-password, schema: kappa }
/// roles: [bridge, rollups, anomalies, devices, archive]
/// http: 127.0.0.1:9464
/// ```
struct ConfigurationFile: Decodable, Sendable {
    struct MQTT: Decodable, Sendable {
        var url: String?
        var clientID: String?
        var shareGroup: String?
        var qos: Int?
        var `protocol`: String?
        var keepaliveSeconds: Int?
        var passwordFile: String?
        var tls: TLS?

        enum CodingKeys: String, CodingKey {
            case url, qos, `protocol`, tls
            case clientID = "client_id", shareGroup = "share_group", keepaliveSeconds = "keepalive_seconds", passwordFile = "password_file"
        }
    }

    struct TLS: Decodable, Sendable {
        var caFile: String?
        var certFile: String?
        var keyFile: String?

        enum CodingKeys: String, CodingKey {
            case caFile = "ca_file", certFile = "cert_file", keyFile = "key_file"
        }
    }

    struct Topic: Decodable, Sendable {
        var template: String
        var format: String?
    }

    struct Log: Decodable, Sendable {
        var partitions: Int?
        var fsync: String?
        var diskFloorMB: Int?
        var retentionHours: Int?

        enum CodingKeys: String, CodingKey {
            case partitions, fsync
            case diskFloorMB = "disk_floor_mb", retentionHours = "retention_hours"
        }
    }

    struct Database: Decodable, Sendable {
        var url: String?
        var passwordFile: String?
        var schema: String?

        enum CodingKeys: String, CodingKey {
            case url, schema
            case passwordFile = "password_file"
        }
    }

    var mqtt: MQTT?
    var topics: [Topic]?
    var dataDir: String?
    var log: Log?
    var database: Database?
    var roles: [String]?
    var http: String?

    enum CodingKeys: String, CodingKey {
        case mqtt, topics, log, database, roles, http
        case dataDir = "data_dir"
    }

    static func load(path: String) throws -> ConfigurationFile {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigurationError("cannot read the configuration file \(path)")
        }
        do {
            return try YAMLDecoder().decode(ConfigurationFile.self, from: text)
        } catch {
            throw ConfigurationError("the configuration file \(path) is not valid: \(error)")
        }
    }
}

struct ConfigurationError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
