using System.Diagnostics.Metrics;

namespace VoiceActors.LoadTest.Metrics;

/// <summary>
/// The in-process silo's own <c>voice_audio_latency_ms</c> histogram, read raw through a <see cref="MeterListener"/> and kept
/// per <c>path</c> tag (inbound, outbound, turn): the server-added latency, without the client's hop. Values before
/// <paramref name="measuring"/> turns true (the warm-up) are left out.
/// </summary>
public sealed class SiloLatencyProbe : IDisposable
{
    public const string MeterName = "VoiceActors";
    public const string InstrumentName = "voice_audio_latency_ms";

    private readonly Func<bool> _measuring;
    private readonly MeterListener _listener = new();
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, LatencyHistogram> _paths = new(StringComparer.Ordinal);

    public SiloLatencyProbe(Func<bool> measuring)
    {
        _measuring = measuring;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == MeterName && instrument.Name == InstrumentName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<double>(OnMeasurement);
        _listener.Start();
    }

    private void OnMeasurement(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags, object? state)
    {
        if (!_measuring()) return;
        foreach (var tag in tags)
            if (tag.Key == "path" && tag.Value is string path)
                _paths.GetOrAdd(path, _ => new LatencyHistogram()).RecordMilliseconds(value);
    }

    public SortedDictionary<string, LatencySummary> Summarize()
    {
        var result = new SortedDictionary<string, LatencySummary>(StringComparer.Ordinal);
        foreach (var (path, histogram) in _paths) result[path] = histogram.Summarize();
        return result;
    }

    public void Dispose() => _listener.Dispose();
}
