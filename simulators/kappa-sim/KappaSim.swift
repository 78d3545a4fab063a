import ArgumentParser
import KappaCommandLine
import KappaCore
import KappaSimulator

@main
struct KappaSim: AsyncParsableCommand {
    static func main() async {
        await mainExitingTwoOnInputError()
    }

    static let configuration = CommandConfiguration(
        commandName: "kappa-sim",
        abstract: "A fleet of simulated MQTT devices: realistic signals, labelled anomalies, chaos, load.",
        discussion: """
        Devices are <kind>-<NNNNN> (env-00042, machine-00007, power-00013):
          env      temperature, humidity, co2                 every 10-60 s
          machine  vibration_rms, current, bearing_temperature  every 1-5 s
          power    voltage, power, energy_kwh (a counter)     every 5-15 s

        Topics (after --topic-prefix) and --format:
          json     devices/{device}/telemetry  {"ts":<ms>,"temperature":21.5}
          values   devices/{device}/telemetry  {"ts":<ms>,"values":{...}}
          batch    devices/{device}/telemetry  [ --batch-size such objects ]
          number   devices/{device}/{metric}   21.5 (gateway stamps the
                   receive time: prefer json in fast mode)
          line     --line-topic (default influx/{device}), line protocol;
                   give the gateway a route for it:
                   --topic 'influx/{device}=line_protocol'
          zigbee2mqtt  zigbee2mqtt/{device}, flat, last_seen ISO 8601,
                   "state":"ON", booleans, linkquality, update
          tasmota  tele/{device}/SENSOR, {"Time":<local, no zone>,
                   "SCD30"|"ANALOG"|"ENERGY":{...},"TempUnit":"C"}
          shelly   {device}/events/rpc, Shelly Gen2 NotifyStatus: src,
                   params.ts (epoch s), "switch:0":{...,"output":true}
          ttn      v3/kappa-sim@ttn/devices/{device}/up, The Things Stack
                   uplink: decoded_payload, received_at (RFC 3339, ns)
          sparkplug  Sparkplug B: group --sparkplug-group, edge nodes
                   edge-NNNN of --devices-per-edge-node devices each;
                   NBIRTH (bdSeq), DBIRTH per device, DDATA by alias
                   with seq, NDEATH as the will; answers NCMD rebirth.
                   The gateway stores {group}/edge-NNNN/{device}.
        The family formats need a payload mapping and sparkplug needs
        --sparkplug: --print-routes prints what to give 'kappa run' so
        that every reading maps, with no dead letter:
          eval kappa run $(kappa-sim --format tasmota --print-routes)
        (the routes are quoted for a shell: eval them, or paste them.)

        Time: real time by default (--speed realtime, or a factor like 60). --fast simulates event time \
        from --start (default: now minus --duration, or minus a day) as fast as the broker takes it. Stop \
        with --count (messages), --duration (simulated time) or Ctrl-C; the run then waits for every \
        acknowledgement and prints a summary on stdout. The same --seed, options and --start give \
        byte-identical messages and labels.

        Ground truth (--labels FILE), JSON Lines, one object per event:
          {"device":"env-00042","metric":"temperature","kind":"spike",
           "start":"2026-11-25T10:00:00Z","end":"2026-11-25T10:00:00Z"}
        or, for FILE.csv (or --labels-format csv), CSV with a header row:
          device,metric,kind,start,end,topic,reason,offset_ms
          env-00042,temperature,spike,2026-11-25T10:00:00Z,2026-11-25T...
          kind      spike, dip, level_shift, drift, stuck, noise_burst,
                    dropout (metric "*": the device is silent);
                    chaos: duplicate, out_of_order, late, clock_skew,
                    malformed, oversized
          start/end RFC 3339 UTC event times of the first and last affected
                    reading (late, out_of_order: event time and send time;
                    malformed, oversized: the send time)
          topic     (chaos kinds) the topic of the message concerned
          reason    (malformed, oversized) the gateway's dead-letter reason
          offset_ms (clock_skew) device clock minus true time
        'kappa eval' reads either form.

        Connections: --connections N spreads the devices over N connections (1 is as fast as more on a \
        small machine: the broker is the limit); --connections per-device gives each device its own, with \
        client id kappa-sim-<device> (--client-id-prefix), for realistic small fleets. QoS 1 and 2 keep up \
        to --window messages per connection unacknowledged; the run ends once every one is acknowledged.

        Examples:
          # 100 devices in real time until Ctrl-C
          kappa-sim --mqtt mqtt://127.0.0.1:1883 --devices 100
          # a day of 10 000 devices, fast, with anomalies and ground truth
          kappa-sim --devices 10000 --fast --duration 1d \\
            --anomaly-rate 0.001 --labels truth.jsonl --seed 7
          # exactly a million messages at QoS 0 over 4 connections
          kappa-sim --fast --count 1000000 --qos 0 --connections 4
          # 50 devices, each its own MQTT client, ground truth as CSV
          kappa-sim --devices 50 --connections per-device --labels truth.csv
          # chaos: late, reordered, malformed messages, connection drops
          kappa-sim --fast --duration 6h --late-rate 0.01 \\
            --out-of-order-rate 0.01 --malformed-rate 0.001 --drop-every 50000
          # a Tasmota fleet, and the routes for the gateway
          kappa-sim --format tasmota --print-routes
          kappa-sim --format tasmota --devices 20 --labels truth.jsonl
          # 100 devices as 10 Sparkplug B edge nodes
          kappa-sim --format sparkplug --devices 100 --devices-per-edge-node 10
          # a recorded series at 60x (see 'kappa-sim replay-csv --help')
          kappa-sim replay-csv recorded.csv --device pump-00001 \\
            --metric pressure --speed 60
        """,
        subcommands: [ReplayCSV.self]
    )

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Number of devices.")
    var devices: Int = 10

    @Option(help: ArgumentHelp("Device kinds, mixed in turn: env, machine, power.", valueName: "kinds"))
    var kinds: String = "env,machine,power"

    @Option(help: "Seed of every random choice.")
    var seed: UInt64 = 1

    @Option(help: "Stop after this many messages.")
    var count: Int?

    @Option(help: ArgumentHelp("Stop after this much simulated time: 30s, 10m, 2h, 1d.", valueName: "duration"))
    var duration: DurationOption?

    @Option(help: ArgumentHelp("fast, realtime, or a speed factor such as 60.", valueName: "speed"))
    var speed: SpeedOption?

    @Flag(help: "Same as --speed fast.")
    var fast = false

    @Option(help: ArgumentHelp("First simulated event time (RFC 3339 or epoch). Default: now, or in fast mode now minus --duration.", valueName: "time"))
    var start: String?

    @Option(help: ArgumentHelp("Payload format: \(TelemetryFormat.allCases.map(\.rawValue).joined(separator: ", ")).", valueName: "format"))
    var format: String = "json"

    @Flag(help: "Print the kappa run arguments (--topic routes, --sparkplug) that map every reading of --format, and exit.")
    var printRoutes = false

    @Option(help: ArgumentHelp("Sparkplug group id of the sparkplug format.", valueName: "group"))
    var sparkplugGroup: String = "kappa-sim"

    @Option(help: "Devices per Sparkplug edge node in the sparkplug format (one MQTT connection each).")
    var devicesPerEdgeNode: Int = 10

    @Option(help: "Ticks per message in the batch format.")
    var batchSize: Int = 10

    @Option(help: ArgumentHelp("Topic of the line format; {device} is replaced.", valueName: "template"))
    var lineTopic: String = "influx/{device}"

    @Option(help: ArgumentHelp("Seconds between a device's readings, as a range MIN-MAX (default: by kind).", valueName: "range"))
    var cadence: String?

    @Option(help: "Probability that a device tick starts an anomaly.")
    var anomalyRate: Double = 0

    @Option(help: ArgumentHelp("Anomaly kinds to inject (default: all).", valueName: "kinds"))
    var anomalyKinds: String?

    @Option(help: "Probability that a message is sent twice.")
    var duplicateRate: Double = 0
    @Option(help: "Probability that a message is sent after its device's next one.")
    var outOfOrderRate: Double = 0
    @Option(help: "Probability that a message is held back 30 s to 10 min of simulated time.")
    var lateRate: Double = 0
    @Option(help: "Probability per tick that a device's clock goes wrong (30 s to 1 h) for 20–200 ticks.")
    var clockSkewRate: Double = 0
    @Option(help: "Probability per tick of an extra malformed message.")
    var malformedRate: Double = 0
    @Option(help: "Probability per tick of an extra message beyond 256 KiB.")
    var oversizedRate: Double = 0
    @Option(help: "Drop and reopen each connection after this many messages.")
    var dropEvery: Int?

    @Option(help: ArgumentHelp("Write the ground truth (see above) to this file; CSV if it ends in .csv.", valueName: "file"))
    var labels: String?

    @Option(help: ArgumentHelp("Ground-truth format whatever the file name: jsonl or csv.", valueName: "format"))
    var labelsFormat: LabelFileFormat?

    var pacing: Pacing { fast ? .fast : (speed ?? .factor(1)).pacing }

    func validate() throws {
        guard devices >= 1 else { throw ValidationError("--devices must be at least 1") }
        guard let telemetryFormat = TelemetryFormat(rawValue: format) else {
            throw ValidationError("--format must be one of \(TelemetryFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard devicesPerEdgeNode >= 1 else { throw ValidationError("--devices-per-edge-node must be at least 1") }
        if telemetryFormat == .sparkplug {
            guard !sparkplugGroup.isEmpty, !sparkplugGroup.contains(where: { "/+#".contains($0) }) else {
                throw ValidationError("--sparkplug-group must be non-empty without '/', '+' or '#'")
            }
            let edgeNodes = (devices + devicesPerEdgeNode - 1) / devicesPerEdgeNode
            guard edgeNodes <= PerDeviceConnections.maximumDevices else {
                throw ValidationError("\(edgeNodes) Sparkplug edge nodes (one connection each) are too many: raise --devices-per-edge-node")
            }
        }
        _ = try parsedKinds()
        _ = try parsedAnomalyKinds()
        _ = try parsedCadence()
        if let start, TimeText.timestamp(start) == nil { throw ValidationError("--start '\(start)' is neither RFC 3339 nor an epoch time") }
        for (name, rate) in [("anomaly", anomalyRate), ("duplicate", duplicateRate), ("out-of-order", outOfOrderRate), ("late", lateRate),
                             ("clock-skew", clockSkewRate), ("malformed", malformedRate), ("oversized", oversizedRate)] {
            guard (0...1).contains(rate) else { throw ValidationError("--\(name)-rate must be between 0 and 1") }
        }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if let dropEvery, dropEvery < 1 { throw ValidationError("--drop-every must be at least 1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if connection.connections == .perDevice, devices > PerDeviceConnections.maximumDevices {
            throw ValidationError("--connections per-device is for up to \(PerDeviceConnections.maximumDevices) devices; use --connections N for \(devices)")
        }
    }

    func parsedKinds() throws -> [DeviceKind] {
        try kinds.split(separator: ",").map { name in
            guard let kind = DeviceKind(rawValue: String(name)) else { throw ValidationError("unknown device kind '\(name)' (env, machine, power)") }
            return kind
        }
    }

    func parsedAnomalyKinds() throws -> [AnomalyKind] {
        guard let anomalyKinds else { return AnomalyKind.allCases }
        return try anomalyKinds.split(separator: ",").map { name in
            guard let kind = AnomalyKind(rawValue: String(name)) else {
                throw ValidationError("unknown anomaly kind '\(name)' (\(AnomalyKind.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return kind
        }
    }

    func parsedCadence() throws -> ClosedRange<Double>? {
        guard let cadence else { return nil }
        let parts = cadence.split(separator: "-").map { DurationText.duration($0).map(\.seconds) }
        guard (1...2).contains(parts.count), let low = parts.first!, let high = parts.last!, low > 0, low <= high else {
            throw ValidationError("--cadence must be SECONDS or MIN-MAX, e.g. 1-60 or 500ms-2s")
        }
        return low...high
    }

    func scenario(now: Timestamp) throws -> FleetScenario {
        let nowMilliseconds = Timestamp(millisecondsSinceEpoch: now.nanosecondsSinceEpoch / 1_000_000)
        let span = duration?.duration.nanoseconds
        let first: Timestamp
        if let start {
            first = TimeText.timestamp(start)!
        } else if pacing == .fast {
            first = nowMilliseconds.adding(nanoseconds: -(span ?? 86_400_000_000_000))
        } else {
            first = nowMilliseconds
        }
        return FleetScenario(
            seed: seed, deviceCount: devices, kinds: try parsedKinds(), start: first, end: span.map { first.adding(nanoseconds: $0) },
            format: TelemetryFormat(rawValue: format)!, batchSize: batchSize, topicPrefix: connection.topicPrefix, lineTopic: lineTopic,
            cadence: try parsedCadence(), anomalyRate: anomalyRate, anomalyKinds: try parsedAnomalyKinds(),
            chaos: ChaosRates(duplicate: duplicateRate, outOfOrder: outOfOrderRate, late: lateRate, clockSkew: clockSkewRate,
                              malformed: malformedRate, oversized: oversizedRate),
            sparkplug: SparkplugFleetLayout(group: sparkplugGroup, devicesPerEdgeNode: devicesPerEdgeNode)
        )
    }

    func run() async throws {
        let telemetryFormat = TelemetryFormat(rawValue: format)!
        if printRoutes {
            let routes = SimulatorRoutes(format: telemetryFormat, topicPrefix: connection.topicPrefix, lineTopic: lineTopic)
            print(routes.arguments.joined(separator: "\n"))
            return
        }
        let fleet = Fleet(try scenario(now: .now()))
        // Sparkplug edge nodes open their own connections (one each, with its will), not the shared ones.
        let edgeNodes = telemetryFormat == .sparkplug ? (devices + devicesPerEdgeNode - 1) / devicesPerEdgeNode : nil
        try await RunCommand.execute(
            source: fleet, devices: devices, options: connection, pacing: pacing, limit: count,
            labels: labels, labelsFormat: labelsFormat, dropEvery: dropEvery, edgeNodes: edgeNodes
        )
    }
}

extension LabelFileFormat: ExpressibleByArgument {}
