using System.Security.Cryptography;
using BenchmarkDotNet.Attributes;
using Concentus;
using Concentus.Enums;
using Microsoft.Extensions.Options;
using VoiceActors.Recording;

namespace VoiceActors.Benchmarks;

/// <summary>
/// What one recorded session costs per 20 ms of audio: one multistream Opus frame (candidate and agent, 24 kHz, CELT only, the
/// recorder's settings) with libopus or Concentus' managed codec at a few complexities, and the AES-GCM seal of one 10 s chunk
/// (what <see cref="RecordingVault"/> does before each store call). A session encodes 50 frames a second and seals one chunk
/// per <see cref="RecordingOptions.ChunkDuration"/>.
/// </summary>
[BenchmarkCategory("recording")]
public class RecordingBenchmarks
{
    private const int FrameSamples = 480;
    private readonly byte[] _packet = new byte[4000];
    private IOpusMultiStreamEncoder _encoder = null!;
    private short[][] _frames = null!;
    private int _next;
    private RecordingKeys _keys = null!;
    private byte[] _dataKey = null!;
    private byte[] _chunk = null!;

    [Params(OpusImplementation.Auto, OpusImplementation.Managed)]
    public OpusImplementation Opus { get; set; }

    [Params(0, 3, 5)]
    public int Complexity { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _encoder = RecordingCodec.Encoder(Opus);
        if (Opus == OpusImplementation.Auto && !RecordingCodec.IsNative(_encoder))
            throw new InvalidOperationException("libopus did not load (Debian: libopus0 and libopus-dev): the Auto rows would measure the managed codec");
        _encoder.Bitrate = 2 * new RecordingOptions().BitratePerChannel;
        _encoder.Complexity = Complexity;
        _encoder.SignalType = OpusSignal.OPUS_SIGNAL_VOICE;
        // Two seconds of "speech" on both sides (tones that change every 200 ms, with noise), cycled: not one frame repeated.
        var random = new Random(15);
        _frames = new short[100][];
        for (var f = 0; f < _frames.Length; f++)
        {
            var frame = _frames[f] = new short[FrameSamples * 2];
            for (var i = 0; i < FrameSamples; i++)
            {
                var t = f * FrameSamples + i;
                frame[2 * i] = (short)(6000 * Math.Sin(2 * Math.PI * (200 + 90 * (t / 4800 % 10)) * t / 24_000.0) + random.Next(-400, 400));
                frame[2 * i + 1] = (short)(4000 * Math.Sin(2 * Math.PI * (150 + 70 * (t / 4800 % 7)) * t / 24_000.0) + random.Next(-400, 400));
            }
        }
        var options = new RecordingOptions { MasterKeys = { ["k1"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) }, CurrentKeyId = "k1" };
        _keys = new RecordingKeys(Options.Create(options));
        (_dataKey, _) = _keys.NewDataKey("recordings/t/s/key");
        _chunk = RandomNumberGenerator.GetBytes(10 * 50 * 2 * 30); // 10 s at 24 kbit/s per side: ~60 KB
    }

    [GlobalCleanup]
    public void Cleanup() => (_encoder as IDisposable)?.Dispose();

    [Benchmark]
    public int EncodeFrame() => _encoder.EncodeMultistream(_frames[_next++ % _frames.Length], FrameSamples, _packet, _packet.Length);

    /// <summary>Independent of the codec; measured in every row so the table reads per configuration.</summary>
    [Benchmark]
    public byte[] SealTenSecondChunk() => _keys.SealObject(_dataKey, "k1", "recordings/t/s/chunk-000001.ogg", _chunk);
}
