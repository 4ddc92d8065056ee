using System.Diagnostics.Metrics;
using VoiceActors.Telemetry;

namespace VoiceActors.Recording;

/// <summary>The recorder's counters (Prometheus appends <c>_total</c>); exported at 0 from start-up like the other series.</summary>
public static class RecordingMetrics
{
    public static readonly Counter<long> ChunksStored = VoiceMetrics.Meter.CreateCounter<long>(
        "voice_recording_chunks_stored", description: "Recording chunks sealed and stored with the manifest updated.");

    public static readonly Counter<long> ChunksDropped = VoiceMetrics.Meter.CreateCounter<long>(
        "voice_recording_chunks_dropped", description: "Recording chunks dropped because the store was behind or the session ended first.");

    public static readonly Counter<long> FramesDropped = VoiceMetrics.Meter.CreateCounter<long>(
        "voice_recording_frames_dropped", description: "Audio frames the recorder's bounded queue refused (the encoder was behind).");

    public static readonly Counter<long> QuietFramesSkipped = VoiceMetrics.Meter.CreateCounter<long>(
        "voice_recording_quiet_frames_skipped", description: "Quiet candidate frames left out of a recording so a channel that a stall put behind caught up.");

    public static readonly Counter<long> StoreErrors = VoiceMetrics.Meter.CreateCounter<long>(
        "voice_recording_store_errors", description: "Failed or timed-out calls to the recording store (each retried while the chunk is queued).");

    /// <summary>Seconds spent cutting chunks into Ogg pages (Opus encoding itself is measured by the benchmark, per frame).</summary>
    public static readonly Counter<double> EncodeSeconds = VoiceMetrics.Meter.CreateCounter<double>(
        "voice_recording_packaging_seconds", description: "CPU seconds spent building Ogg chunks.");

    /// <summary>CPU seconds the worker's encoder threads spent (their own clocks): encoding both channels and building Ogg chunks.</summary>
    public static readonly Counter<double> EncodeCpuSeconds = VoiceMetrics.Meter.CreateCounter<double>(
        "voice_recording_encode_cpu_seconds", description: "CPU seconds of the recording worker's encoder threads (Opus encoding and Ogg packaging).");

    /// <summary>Everything the recording worker process used: encoding, sealing, storing, reading the pipe, its GC and JIT.</summary>
    public static readonly Counter<double> WorkerCpuSeconds = VoiceMetrics.Meter.CreateCounter<double>(
        "voice_recording_worker_cpu_seconds", description: "CPU seconds of the recording worker process (all of its threads).");

    /// <summary>Recording worker processes that died and were started again.</summary>
    public static readonly Counter<long> WorkerRestarts = VoiceMetrics.Meter.CreateCounter<long>(
        "voice_recording_worker_restarts", description: "Recording worker processes that exited unexpectedly and were replaced.");

    /// <summary>CPU seconds sealing chunks with AES-GCM (the sealing thread's own clock).</summary>
    public static readonly Counter<double> SealCpuSeconds = VoiceMetrics.Meter.CreateCounter<double>(
        "voice_recording_seal_cpu_seconds", description: "CPU seconds spent sealing recording chunks (AES-GCM).");

    /// <summary>20 ms frames encoded (both channels in one): the recorder's CPU divided by these is its cost per second of audio.</summary>
    public static readonly Counter<long> FramesEncoded = VoiceMetrics.Meter.CreateCounter<long>(
        "voice_recording_frames_encoded", description: "20 ms recording frames encoded (candidate and agent together).");

    /// <summary>What the worker counts and the silo exports as its own, in the order the worker's Counters message numbers them.</summary>
    internal static readonly Instrument[] Forwarded =
        [ChunksStored, ChunksDropped, FramesDropped, QuietFramesSkipped, StoreErrors, EncodeSeconds, EncodeCpuSeconds, SealCpuSeconds, FramesEncoded, WorkerCpuSeconds];

    /// <summary>The silo side of <see cref="Forwarded"/>: one delta from the worker.</summary>
    internal static void AddForwarded(int index, double delta)
    {
        switch (index < Forwarded.Length ? Forwarded[index] : null)
        {
            case Counter<long> c:
                c.Add((long)Math.Round(delta));
                break;
            case Counter<double> c:
                c.Add(delta);
                break;
        }
    }

    public static void ExportAtZero()
    {
        WorkerCpuSeconds.Add(0);
        WorkerRestarts.Add(0);
        ChunksStored.Add(0);
        ChunksDropped.Add(0);
        QuietFramesSkipped.Add(0);
        FramesDropped.Add(0);
        StoreErrors.Add(0);
        EncodeSeconds.Add(0);
        EncodeCpuSeconds.Add(0);
        FramesEncoded.Add(0);
        SealCpuSeconds.Add(0);
    }
}
