namespace VoiceActors.LoadTest.Load;

/// <summary>
/// The PCM16 frames every simulated candidate sends: a few distinct speech-like frames (voiced harmonics with a syllable
/// envelope and seeded noise, loud enough for a voice-activity detector) and one silent frame. Shared and never mutated.
/// </summary>
public sealed class SpeechFrames
{
    public SpeechFrames(int sampleRate, TimeSpan frameLength, int seed)
    {
        var samples = (int)(sampleRate * frameLength.TotalSeconds);
        Silence = new byte[samples * 2];
        var random = new Random(seed);
        Speech = new byte[25][];
        for (var f = 0; f < Speech.Length; f++)
        {
            var pcm = new byte[samples * 2];
            var pitch = 110 + random.Next(0, 90);
            for (var i = 0; i < samples; i++)
            {
                var t = (f * samples + i) / (double)sampleRate;
                var envelope = 0.55 + 0.45 * Math.Sin(2 * Math.PI * 4 * t); // ~4 syllables a second
                var voiced = Math.Sin(2 * Math.PI * pitch * t) + 0.5 * Math.Sin(2 * Math.PI * 2 * pitch * t) + 0.25 * Math.Sin(2 * Math.PI * 3 * pitch * t);
                var noise = random.NextDouble() * 2 - 1;
                var value = (short)Math.Clamp((voiced * 0.6 + noise * 0.1) * envelope * 9000, short.MinValue, short.MaxValue);
                pcm[2 * i] = (byte)value;
                pcm[2 * i + 1] = (byte)(value >> 8);
            }
            Speech[f] = pcm;
        }
    }

    public byte[][] Speech { get; }
    public byte[] Silence { get; }
}
