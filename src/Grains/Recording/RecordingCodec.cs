using Concentus;
using Concentus.Enums;
using Concentus.Structs;

namespace VoiceActors.Recording;

/// <summary>Which Opus implementation encodes and decodes recordings (<c>Recordings:Opus</c>).</summary>
public enum OpusImplementation
{
    /// <summary>The system's libopus through Concentus' P/Invoke adapter when it loads (Debian: <c>libopus0</c> and the
    /// <c>libopus.so</c> link from <c>libopus-dev</c>); Concentus' managed codec when it does not.</summary>
    Auto,

    /// <summary>Concentus' managed codec always (about 4× the CPU of libopus per frame: BENCHMARKS.md, #15).</summary>
    Managed,
}

/// <summary>The recording's Opus setup: 24 kHz, two uncoupled mono streams (candidate, agent) in one multistream packet.</summary>
public static class RecordingCodec
{
    public const int SampleRate = 24_000;

    private static readonly byte[] Mapping = [0, 1];

    /// <summary>
    /// Mapping family 255 asks the encoder for exactly one uncoupled stream per channel (family 1 would couple the pair as
    /// stereo, letting one side leak into the other). The headers then say family 1 with 2 streams, 0 coupled: the same bits,
    /// but a mapping players know as plain stereo (RFC 7845 §5.1.1.2). A native encoder holds unmanaged memory: dispose it.
    /// </summary>
    public static IOpusMultiStreamEncoder Encoder(OpusImplementation implementation = OpusImplementation.Auto)
    {
        int streams, coupled;
        // The managed constructors are marked obsolete only to point at the factory, which prefers native code: here the managed
        // codec is what was asked for.
#pragma warning disable CS0618
        var encoder = implementation == OpusImplementation.Managed
            ? OpusMSEncoder.CreateSurround(SampleRate, 2, 255, out streams, out coupled, Mapping, OpusApplication.OPUS_APPLICATION_AUDIO)
#pragma warning restore CS0618
            : OpusCodecFactory.CreateMultiStreamEncoder(SampleRate, 2, 255, out streams, out coupled, Mapping, OpusApplication.OPUS_APPLICATION_AUDIO);
        if (streams != 2 || coupled != 0)
        {
            (encoder as IDisposable)?.Dispose();
            throw new InvalidOperationException($"expected 2 uncoupled streams, got {streams} with {coupled} coupled");
        }
        // CELT only: Concentus' SILK path at 24 kHz decodes to near silence (a 440 Hz tone at 8000 came back at peak 64), CELT
        // round-trips; libopus is held to the same mode so both implementations write the same kind of stream.
        encoder.ForceMode = OpusMode.MODE_CELT_ONLY;
        return encoder;
    }

    public static IOpusMultiStreamDecoder Decoder(OpusImplementation implementation = OpusImplementation.Auto) =>
        implementation == OpusImplementation.Managed
#pragma warning disable CS0618 // asked for the managed codec, not the factory's choice
            ? new OpusMSDecoder(SampleRate, 2, 2, 0, Mapping)
#pragma warning restore CS0618
            : OpusCodecFactory.CreateMultiStreamDecoder(SampleRate, 2, 2, 0, Mapping);

    /// <summary>Whether an encoder is the native libopus adapter (true) or Concentus' managed code.</summary>
    public static bool IsNative(IOpusMultiStreamEncoder encoder) => encoder is not OpusMSEncoder;

    /// <summary>What this process encodes with, e.g. "libopus 1.3.1 (native)" or "Concentus … (managed)", for the start-up log.</summary>
    public static string Describe(OpusImplementation implementation)
    {
        var encoder = Encoder(implementation);
        try
        {
            return $"{encoder.GetVersionString()} ({(IsNative(encoder) ? "native" : "managed")})";
        }
        finally
        {
            (encoder as IDisposable)?.Dispose();
        }
    }
}
