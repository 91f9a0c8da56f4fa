"""Engine mode (``pipeline.transport = "nats"``): the pipeline's input from a NATS JetStream
server or cluster instead of a Mosquitto session, partitioned by device, with partition
ownership and failover between workers and state snapshots in the engine's key-value store.

    subjects    names: stream, buckets, partition subjects, the server's subject mapping
    serverconf  a nats-server configuration (JetStream + MQTT listener + mapping)
    link        the asyncio connection, driven from the pipeline's threads
    snapshots   device state snapshots in a key-value bucket
    intake      partition leases, ordered consumers, acks after checkpoints
"""
