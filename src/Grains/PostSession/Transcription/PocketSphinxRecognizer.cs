using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using VoiceActors.Media;

namespace VoiceActors.PostSession.Transcription;

/// <summary>
/// Offline recognition with CMU PocketSphinx (Debian's <c>pocketsphinx_continuous</c>): the PCM is piped to its stdin as it
/// is read, and it prints one hypothesis line per utterance it finds, followed by word timings (<c>-time yes</c>) from the
/// start of the stream. The 16 kHz model is fed 24 kHz audio unresampled: its filter bank stops at 6.9 kHz, so with a
/// 1024-point FFT the features are the same (checked: identical hypotheses for the same speech at both rates).
/// </summary>
public sealed class PocketSphinxRecognizer(PocketSphinxOptions options) : ISpeechRecognizer
{
    public string Name => "pocketsphinx";

    public async Task<IReadOnlyList<RecognizedSpeech>> RecognizeAsync(Stream pcm, CancellationToken ct = default)
    {
        var start = new ProcessStartInfo(options.Executable)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in Arguments()) start.ArgumentList.Add(arg);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new SpeechRecognitionException(Name, $"'{options.Executable}' did not start");
        }
        catch (Win32Exception e)
        {
            throw new SpeechRecognitionException(Name, $"'{options.Executable}' cannot be run ({e.Message}); install Debian's pocketsphinx and pocketsphinx-en-us", e);
        }

        using (process)
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct))
        {
            timeout.CancelAfter(options.Timeout);
            var errors = process.StandardError.ReadToEndAsync(CancellationToken.None); // drained so it never blocks on a full pipe
            var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            try
            {
                try
                {
                    await pcm.CopyToAsync(process.StandardInput.BaseStream, timeout.Token);
                }
                catch (IOException) when (process.HasExited)
                {
                    // it stopped reading: its exit code and error output say why, below
                }
                finally
                {
                    process.StandardInput.Close();
                }
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                if (ct.IsCancellationRequested) throw;
                throw new SpeechRecognitionException(Name, $"gave no answer within {options.Timeout}");
            }
            if (process.ExitCode != 0)
                throw new SpeechRecognitionException(Name, $"exited with {process.ExitCode}: {LastLine(await errors)}");
            return Parse(await output);
        }
    }

    private IEnumerable<string> Arguments()
    {
        string[] args = ["-infile", "/dev/stdin", "-samprate", AudioFormat.SampleRate.ToString(CultureInfo.InvariantCulture), "-nfft", "1024", "-time", "yes"];
        foreach (var a in args) yield return a;
        if (options.Hmm is { Length: > 0 } hmm) { yield return "-hmm"; yield return hmm; }
        if (options.LanguageModel is { Length: > 0 } lm) { yield return "-lm"; yield return lm; }
        if (options.Dictionary is { Length: > 0 } dict) { yield return "-dict"; yield return dict; }
    }

    /// <summary>
    /// A hypothesis line, then one line per token (<c>word start end probability</c>) from <c>&lt;s&gt;</c> to <c>&lt;/s&gt;</c>.
    /// The segment runs from its first word to its last; fillers (<c>&lt;sil&gt;</c>, <c>[NOISE]</c>) do not count as speech.
    /// </summary>
    internal static IReadOnlyList<RecognizedSpeech> Parse(string output)
    {
        var segments = new List<RecognizedSpeech>();
        string? text = null;
        double first = double.NaN, last = double.NaN;
        foreach (var raw in output.Split('\n'))
        {
            var line = raw.Trim();
            if (line.Length == 0) continue;
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 4 || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var from)
                || !double.TryParse(parts[2], NumberStyles.Float, CultureInfo.InvariantCulture, out var to))
            {
                text = line; // a hypothesis: its timings follow
                first = last = double.NaN;
                continue;
            }
            var word = parts[0];
            if (word == "</s>")
            {
                if (!string.IsNullOrWhiteSpace(text) && !double.IsNaN(first))
                    segments.Add(new RecognizedSpeech(TimeSpan.FromSeconds(first), TimeSpan.FromSeconds(last), text));
                text = null;
                continue;
            }
            if (word.StartsWith('<') || word.StartsWith('[')) continue;
            if (double.IsNaN(first)) first = from;
            last = to;
        }
        return segments;
    }

    private static string LastLine(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "no error output";
}
