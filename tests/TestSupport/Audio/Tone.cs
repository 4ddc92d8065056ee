namespace VoiceActors.TestSupport;

/// <summary>The one tone generator: a sine as little-endian PCM16, loud enough for the voice-activity detector at the default amplitude.</summary>
public static class Tone
{
    public static byte[] Pcm16(int samples, short amplitude, double hertz, int sampleRate)
    {
        var pcm = new byte[samples * 2];
        for (var i = 0; i < samples; i++)
        {
            var s = (short)(amplitude * Math.Sin(2 * Math.PI * hertz * i / sampleRate));
            pcm[2 * i] = (byte)s;
            pcm[2 * i + 1] = (byte)(s >> 8);
        }
        return pcm;
    }
}
