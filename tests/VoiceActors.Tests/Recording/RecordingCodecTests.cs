using Concentus;
using VoiceActors.Media;
using VoiceActors.Recording;

namespace VoiceActors.Tests.Recording;

/// <summary>
/// The recorder's two Opus implementations: libopus (what <c>Auto</c> loads where test.sh installed it) and Concentus' managed
/// codec (the fallback where libopus is absent, or <c>Recordings:Opus=Managed</c>). Both must write streams the other reads,
/// so recordings stay playable whichever silo wrote or serves them.
/// </summary>
public sealed class RecordingCodecTests
{
    [Fact]
    public void Auto_encodes_with_the_system_libopus_here()
    {
        var encoder = RecordingCodec.Encoder(OpusImplementation.Auto);
        try
        {
            Assert.True(RecordingCodec.IsNative(encoder), $"Auto gave {encoder.GetType().Name} ({encoder.GetVersionString()}): libopus.so (libopus-dev) did not load");
            Assert.Contains("libopus", encoder.GetVersionString(), StringComparison.Ordinal);
        }
        finally
        {
            (encoder as IDisposable)?.Dispose();
        }
        Assert.False(RecordingCodec.IsNative(RecordingCodec.Encoder(OpusImplementation.Managed)));
    }

    [Theory]
    [InlineData(OpusImplementation.Managed, OpusImplementation.Auto)]
    [InlineData(OpusImplementation.Auto, OpusImplementation.Managed)]
    public void A_stream_one_implementation_writes_the_other_decodes_with_each_side_in_its_own_channel(OpusImplementation writer, OpusImplementation reader)
    {
        var candidate = RecordingKit.Samples(RecordingKit.Speech(3, seed: 71));
        var agent = RecordingKit.Samples(RecordingKit.Speech(3, seed: 72));
        var encoder = RecordingCodec.Encoder(writer);
        var decoder = RecordingCodec.Decoder(reader);
        try
        {
            encoder.Bitrate = 48_000;
            encoder.Complexity = new RecordingOptions().Complexity;
            var frame = new short[960];
            var packet = new byte[4000];
            var pcm = new short[5760 * 2];
            var (outCandidate, outAgent) = (new List<short>(), new List<short>());
            for (var f = 0; f < candidate.Length / 480; f++)
            {
                for (var i = 0; i < 480; i++) (frame[2 * i], frame[2 * i + 1]) = (candidate[f * 480 + i], agent[f * 480 + i]);
                var n = encoder.EncodeMultistream(frame, 480, packet, packet.Length);
                var samples = decoder.DecodeMultistream(packet.AsSpan(0, n), pcm, 2880, false);
                for (var i = 0; i < samples; i++)
                {
                    outCandidate.Add(pcm[2 * i]);
                    outAgent.Add(pcm[2 * i + 1]);
                }
            }
            var own = RecordingKit.Correlate(candidate, [.. outCandidate]);
            var crossed = RecordingKit.Correlate(candidate, [.. outAgent]);
            var agentOwn = RecordingKit.Correlate(agent, [.. outAgent]);
            Assert.True(own.Envelope > 0.9 && own.Waveform > 0.3, $"{writer} → {reader}: the candidate channel came back with envelope r={own.Envelope:0.000}, waveform r={own.Waveform:0.000}");
            Assert.True(agentOwn.Envelope > 0.9, $"{writer} → {reader}: the agent channel came back with envelope r={agentOwn.Envelope:0.000}");
            Assert.True(crossed.Waveform < 0.3, $"{writer} → {reader}: the candidate leaks into the agent's channel (waveform r={crossed.Waveform:0.000})");
        }
        finally
        {
            (encoder as IDisposable)?.Dispose();
            (decoder as IDisposable)?.Dispose();
        }
    }
}
