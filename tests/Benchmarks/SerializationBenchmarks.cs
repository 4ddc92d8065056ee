using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using VoiceActors.Media;

namespace VoiceActors.Benchmarks;

/// <summary>What every frame pays on the wire: serializing and deserializing one 20 ms AudioFrame with Orleans' serializer.</summary>
[BenchmarkCategory("relay")]
public class SerializationBenchmarks
{
    private Serializer<AudioFrame> _serializer = null!;
    private AudioFrame _frame;
    private byte[] _bytes = null!;

    [GlobalSetup]
    public void Setup()
    {
        var services = new ServiceCollection().AddSerializer().BuildServiceProvider();
        _serializer = services.GetRequiredService<Serializer<AudioFrame>>();
        _frame = new AudioFrame(42, DateTime.UtcNow.Ticks, new byte[960]);
        _bytes = _serializer.SerializeToArray(_frame);
    }

    [Benchmark]
    public byte[] Serialize() => _serializer.SerializeToArray(_frame);

    [Benchmark]
    public AudioFrame Deserialize() => _serializer.Deserialize(_bytes);
}
