using Concentus;
using Concentus.Enums;

namespace VoiceActors.Recording;

/// <summary>The recording's Opus setup: 24 kHz, two uncoupled mono streams (candidate, agent) in one multistream packet.</summary>
public static class RecordingCodec
{
    public const int SampleRate = 24_000;

    /// <summary>
    /// Mapping family 255 asks the encoder for exactly one uncoupled stream per channel (family 1 would couple the pair as
    /// stereo, letting one side leak into the other). The headers then say family 1 with 2 streams, 0 coupled: the same bits,
    /// but a mapping players know as plain stereo (RFC 7845 §5.1.1.2).
    /// </summary>
    public static IOpusMultiStreamEncoder Encoder()
    {
        var encoder = OpusCodecFactory.CreateMultiStreamEncoder(SampleRate, 2, 255, out var streams, out var coupled, [0, 1], OpusApplication.OPUS_APPLICATION_AUDIO);
        if (streams != 2 || coupled != 0) throw new InvalidOperationException($"expected 2 uncoupled streams, got {streams} with {coupled} coupled");
        // CELT only: Concentus' SILK path at 24 kHz decodes to near silence (a 440 Hz tone at 8000 came back at peak 64), CELT round-trips.
        encoder.ForceMode = OpusMode.MODE_CELT_ONLY;
        return encoder;
    }

    public static IOpusMultiStreamDecoder Decoder() => OpusCodecFactory.CreateMultiStreamDecoder(SampleRate, 2, 2, 0, [0, 1]);
}
