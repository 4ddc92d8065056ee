using Microsoft.Playwright;

namespace VoiceActors.Tests.EndToEnd;

/// <summary>
/// The candidate's browser: Debian's headless Chromium (never a downloaded one) through Playwright, with a fake microphone playing a
/// WAV this writes (speech-like sound, then a pause, on a loop) and autoplay allowed.
/// </summary>
public sealed class CandidateBrowser : IAsyncDisposable
{
    private readonly IPlaywright _playwright;
    private readonly string _wav;

    private CandidateBrowser(IPlaywright playwright, IBrowser browser, string wav)
    {
        _playwright = playwright;
        Browser = browser;
        _wav = wav;
    }

    public IBrowser Browser { get; }

    public static async Task<CandidateBrowser> LaunchAsync()
    {
        var wav = Path.Combine(Path.GetTempPath(), $"va-candidate-{Guid.NewGuid():N}.wav");
        await File.WriteAllBytesAsync(wav, SpeechThenPauseWav());
        var chromium = FindOnPath("chromium") ?? throw new InvalidOperationException("Debian's chromium is required (test.sh installs it).");
        var playwright = await Playwright.CreateAsync();
        try
        {
            var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
            {
                ExecutablePath = chromium,
                Headless = true,
                Args =
                [
                    "--headless", "--no-sandbox", "--disable-gpu",
                    "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream", $"--use-file-for-fake-audio-capture={wav}",
                    "--autoplay-policy=no-user-gesture-required",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run",
                ],
            });
            return new CandidateBrowser(playwright, browser, wav);
        }
        catch
        {
            playwright.Dispose();
            File.Delete(wav);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Browser.DisposeAsync();
        _playwright.Dispose();
        File.Delete(_wav);
    }

    /// <summary>Three seconds at 48 kHz: 1.2 s of a voiced, syllable-modulated sound, then 1.8 s of silence (Chromium loops it).</summary>
    private static byte[] SpeechThenPauseWav()
    {
        const int rate = 48_000;
        var samples = new short[rate * 3];
        for (var i = 0; i < rate * 12 / 10; i++)
        {
            var t = i / (double)rate;
            var syllables = 0.55 + 0.45 * Math.Sin(2 * Math.PI * 4 * t);
            var voice = 0.6 * Math.Sin(2 * Math.PI * 140 * t) + 0.3 * Math.Sin(2 * Math.PI * 280 * t) + 0.1 * Math.Sin(2 * Math.PI * 560 * t);
            samples[i] = (short)(12_000 * syllables * voice);
        }
        using var wav = new MemoryStream();
        using var w = new BinaryWriter(wav);
        w.Write("RIFF"u8); w.Write(36 + samples.Length * 2); w.Write("WAVE"u8);
        w.Write("fmt "u8); w.Write(16); w.Write((short)1); w.Write((short)1); w.Write(rate); w.Write(rate * 2); w.Write((short)2); w.Write((short)16);
        w.Write("data"u8); w.Write(samples.Length * 2);
        foreach (var s in samples) w.Write(s);
        w.Flush();
        return wav.ToArray();
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':'))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
