using System.Diagnostics.Metrics;
using VoiceActors.Telemetry;

namespace VoiceActors.Media.Bridge;

/// <summary>
/// The bridge's instruments, observed from its counters at scrape time, so every series exists at 0 from start-up. The meter
/// comes from the host's <see cref="IMeterFactory"/> and goes away with the silo's service provider.
/// </summary>
public sealed class MediaBridgeMetrics
{
    internal long FramesOut;
    internal long FramesIn;
    internal long DroppedSiloOut;
    internal long DroppedSiloIn;
    internal long DroppedBridgeOut;
    internal long DroppedBridgeIn;
    internal long Restarts;
    internal long Recycled;
    internal long Garbage;

    public MediaBridgeMetrics(IMeterFactory meters, Func<(int Processes, int Sessions, long RssBytes)> load)
    {
        var meter = meters.Create(VoiceMetrics.MeterName);
        meter.CreateObservableCounter("voice_bridge_frames", () => new[]
        {
            new Measurement<long>(Interlocked.Read(ref FramesOut), new KeyValuePair<string, object?>("direction", "out")),
            new Measurement<long>(Interlocked.Read(ref FramesIn), new KeyValuePair<string, object?>("direction", "in")),
        }, unit: null, description: "Audio frames through the media bridge pipe (direction out: agent to room; in: candidate to silo).");
        meter.CreateObservableCounter("voice_bridge_frames_dropped", () => new[]
        {
            Drop(ref DroppedSiloOut, "silo_out"), Drop(ref DroppedSiloIn, "silo_in"),
            Drop(ref DroppedBridgeOut, "bridge_out"), Drop(ref DroppedBridgeIn, "bridge_in"),
        }, unit: null, description: "Audio frames dropped by the bridge's bounded queues (label where: silo_out, silo_in, bridge_out, bridge_in).");
        meter.CreateObservableCounter("voice_bridge_restarts", () => Interlocked.Read(ref Restarts),
            unit: null, description: "Media bridge processes that died and were replaced.");
        meter.CreateObservableCounter("voice_bridge_recycled", () => Interlocked.Read(ref Recycled),
            unit: null, description: "Media bridge processes retired after their session or memory bound.");
        meter.CreateObservableCounter("voice_bridge_garbage", () => Interlocked.Read(ref Garbage),
            unit: null, description: "Unparseable runs of bytes or frames on the bridge pipe (either direction).");
        meter.CreateObservableGauge("voice_bridge_processes", () => load().Processes, unit: null, description: "Media bridge processes running.");
        meter.CreateObservableGauge("voice_bridge_sessions", () => load().Sessions, unit: null, description: "Agent room connections held by the media bridge.");
        meter.CreateObservableGauge("voice_bridge_rss_bytes", () => load().RssBytes, unit: null, description: "Resident memory of all media bridge processes.");
    }

    public long RestartCount => Interlocked.Read(ref Restarts);
    public long RecycledCount => Interlocked.Read(ref Recycled);
    public long GarbageCount => Interlocked.Read(ref Garbage);
    public long FramesOutCount => Interlocked.Read(ref FramesOut);
    public long FramesInCount => Interlocked.Read(ref FramesIn);

    private static Measurement<long> Drop(ref long counter, string where) =>
        new(Interlocked.Read(ref counter), new KeyValuePair<string, object?>("where", where));
}
