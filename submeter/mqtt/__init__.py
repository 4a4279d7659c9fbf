"""MQTT plumbing shared by the simulator, the ingest worker and the command sender.

* `submeter.mqtt.client`: paho-mqtt 2.x clients from an `mqtt://host:port` URL (`connect`,
  `disconnect`, `parse_mqtt_url`).
* `submeter.mqtt.broker`: `EmbeddedBroker`, an in-process amqtt broker on 127.0.0.1 and a free
  port, for the embedded default and for tests.
* `submeter.mqtt.event_loop_thread`: `EventLoopThread`, an asyncio loop in a background thread
  for sync code that runs async servers.

Nothing here imports Django.
"""
