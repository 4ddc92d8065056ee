using System.Diagnostics;

namespace VoiceActors.TestSupport;

/// <summary>
/// Real spoken English for recognition tests: Debian's <c>flite</c> (voice <c>slt</c>, which PocketSphinx understands best)
/// renders the text, <c>sox</c> resamples it to the hot path's 24 kHz mono s16le PCM.
/// </summary>
public static class Speech
{
    public const int SampleRate = 24_000;

    public static async Task<byte[]> Pcm24kAsync(string text)
    {
        var wav = Path.Combine(Path.GetTempPath(), $"speech-{Guid.NewGuid():N}.wav");
        try
        {
            await RunAsync("flite", null, "-voice", "slt", "-t", text, "-o", wav);
            using var pcm = new MemoryStream();
            await RunAsync("sox", pcm, wav, "-r", SampleRate.ToString(), "-c", "1", "-b", "16", "-e", "signed-integer", "-t", "raw", "-");
            return pcm.ToArray();
        }
        finally
        {
            File.Delete(wav);
        }
    }

    /// <summary>Silence of the given length, as 24 kHz s16le PCM.</summary>
    public static byte[] Silence(TimeSpan length) => new byte[(int)(length.TotalSeconds * SampleRate) * 2];

    private static async Task RunAsync(string program, Stream? stdout, params string[] args)
    {
        var start = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var errors = process.StandardError.ReadToEndAsync();
        if (stdout is not null) await process.StandardOutput.BaseStream.CopyToAsync(stdout);
        else await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0) throw new InvalidOperationException($"{program} exited with {process.ExitCode}: {await errors}");
    }
}
