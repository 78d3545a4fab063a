// MQTT.
