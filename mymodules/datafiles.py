"""講義で使うデータファイルを、データフォルダーから読むかダウンロードする。

``mnist.py`` と ``weights.py`` が使う共通の部品です。学生が直接使う必要はありません。

データフォルダーは次の順に決まります。

1. 関数に渡した ``data_dir``: そこに読み書きし、足りないファイルはダウンロードします。
2. 環境変数 ``COURSE_DATA_DIR``: 用意済みのフォルダーとして読むだけで、
   ダウンロードはしません（オフラインの教室や CI 向け）。
3. どちらもなければ、このファイルの隣の ``data/``（Colab なら Google Drive の
   ``mymodules/data``）。書き込めなければユーザーのキャッシュフォルダーを使います。

どのフォルダーも ``../shared/data`` と同じ並び（``mnist/*.gz`` と
``sample_weight.pkl``）です。ダウンロードしたファイルは、大きさと SHA-256 が
合ってから正式な名前に置くので、壊れたファイルが残ることはありません。
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

ENV_DATA_DIR = "COURSE_DATA_DIR"
CACHE_NAME = "nn-output-layer"

# Seconds to wait for a server to respond or to send the next chunk.
# NOTE: there is no deadline for a whole download, so a server that sends a
# byte every few seconds is waited for until the size limit or the end.
DEFAULT_TIMEOUT = 30

# Permissions of downloaded and cached files; mkstemp alone would leave them 0600.
FILE_MODE = 0o644

# Bytes read from the network at a time (pooch's default of 1 KiB is slow).
DOWNLOAD_CHUNK_BYTES = 64 * 1024

# Files at least this large get a progress bar while downloading.
PROGRESS_MIN_BYTES = 1_000_000


@dataclass(frozen=True)
class DataFile:
    """ダウンロードして使う 1 つのファイルと、その正しい中身の情報。

    Attributes
    ----------
    name : str
        データフォルダーからの相対パス（例: ``"mnist/t10k-labels-idx1-ubyte.gz"``）。
    size : int
        正しいファイルの大きさ（バイト）。
    sha256 : str
        正しいファイルの SHA-256（16 進数の小文字）。
    urls : tuple of str
        ダウンロード元。前から順に試します。
    """

    name: str
    size: int
    sha256: str
    urls: tuple

    def __post_init__(self):
        parts = Path(self.name).parts
        if Path(self.name).is_absolute() or ".." in parts or not parts:
            raise ValueError(
                f"DataFile.name must be a relative path inside the data folder, "
                f"got {self.name!r}."
            )


@dataclass(frozen=True)
class DataFolder:
    """ファイルを探すフォルダーと、そこへダウンロードしてよいかどうか。"""

    path: Path
    may_download: bool
    origin: str


def resolve_data_folder(data_dir=None):
    """引数、環境変数、既定の順にデータフォルダーを決める。

    Parameters
    ----------
    data_dir : str or os.PathLike or None
        明示したフォルダー。None なら ``COURSE_DATA_DIR``、それもなければ既定の場所。

    Returns
    -------
    DataFolder
    """
    if data_dir is not None:
        return DataFolder(Path(data_dir).expanduser(), True, "引数 data_dir")

    env_value = os.environ.get(ENV_DATA_DIR, "").strip()
    if env_value:
        path = Path(env_value).expanduser().resolve()
        if not path.is_dir():
            reason = "はフォルダーではありません" if path.exists() else "がありません"
            raise FileNotFoundError(
                f"環境変数 {ENV_DATA_DIR} が指す {path} {reason}。"
                "mnist/*.gz と sample_weight.pkl の入ったフォルダーを指定するか、"
                f"{ENV_DATA_DIR} を消して自動ダウンロードを使ってください。"
            )
        return DataFolder(path, False, f"環境変数 {ENV_DATA_DIR}")

    default = Path(__file__).resolve().parent / "data"
    if is_writable(default):
        return DataFolder(default, True, "既定のフォルダー")
    return DataFolder(user_cache_dir(), True, "ユーザーのキャッシュフォルダー")


def user_cache_dir():
    """このコース用のユーザーキャッシュフォルダー（OS ごとの標準の場所）を返す。"""
    # pooch.os_cache returns the same folder, but importing pooch 1.9 costs every
    # new kernel about 30 ms more than platformdirs, which pooch itself uses
    # (measured with python -X importtime).
    try:
        import platformdirs
    except ImportError:
        # The XDG rule that platformdirs follows on Linux, enough where it is missing.
        cache_home = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        return Path(cache_home) / CACHE_NAME
    return Path(platformdirs.user_cache_dir(CACHE_NAME))


def is_writable(folder):
    """``folder`` を作ってファイルを書けるなら True を返す。"""
    try:
        Path(folder).mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError:
        return False
    return True


def sha256_of(path):
    """ファイルの SHA-256 を 16 進数の文字列で返す。"""
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_problem(path, spec):
    """``path`` が ``spec`` どおりのファイルか調べ、違えば理由の文を返す。

    Returns
    -------
    str or None
        正しいファイルなら None、違えば何が違うかを述べた日本語の文。
    """
    with open(path, "rb") as stream:
        head = stream.read(512)
    if looks_like_html(head):
        return "ファイルではなく HTML ページです（サーバーがエラーページを返しました）"

    size = os.path.getsize(path)
    if size != spec.size:
        return (
            f"大きさが {size:,} バイトで、正しい大きさ {spec.size:,} バイトと違います"
        )

    digest = sha256_of(path)
    if digest != spec.sha256:
        return f"SHA-256 が {digest} で、正しい値 {spec.sha256} と違います"
    return None


def looks_like_html(head):
    """ファイルの先頭のバイト列が HTML ページらしければ True を返す。"""
    text = head.lstrip().lower()
    return text.startswith((b"<!doctype html", b"<html", b"<?xml", b"<head", b"<body"))


def fetch(spec, data_dir=None, timeout=DEFAULT_TIMEOUT):
    """データファイルのパスを返す。なければダウンロードし、壊れていれば取り直す。

    Parameters
    ----------
    spec : DataFile
        欲しいファイル。
    data_dir : str or os.PathLike or None
        データフォルダー（決まり方はモジュールの説明を参照）。
    timeout : float
        1 回の通信で待つ秒数。

    Returns
    -------
    pathlib.Path
        大きさと SHA-256 を確かめた正しいファイル。

    Raises
    ------
    FileNotFoundError
        ダウンロードしない設定で、ファイルがないとき。
    ValueError
        ダウンロードしない設定で、ファイルが壊れているとき。
    PermissionError
        指定したフォルダーに書き込めないとき。
    ConnectionError
        どのダウンロード元からも正しいファイルを得られなかったとき。
    """
    folder = resolve_data_folder(data_dir)
    path = folder.path / spec.name

    if path.is_dir():
        raise IsADirectoryError(
            f"{path} がファイルではなくフォルダーになっています。"
            "このフォルダーを移動するか削除してから、もう一度実行してください。"
        )

    if path.is_file():
        problem = find_problem(path, spec)
        if problem is None:
            return path
        if not folder.may_download:
            raise ValueError(
                f"{path} が壊れています: {problem}。"
                f"正しいファイル（{spec.urls[0]}）に置き換えてから、もう一度実行してください。"
            )
        print(f"{path} が壊れていたので削除して取り直します: {problem}。")
        # Another process may be repairing the same file at the same moment.
        path.unlink(missing_ok=True)
    elif not folder.may_download:
        raise FileNotFoundError(
            f"{path} がありません（{folder.origin} のフォルダーを使う設定なので、"
            "ダウンロードはしません）。"
            f"そのフォルダーに {spec.name} を置くか、{ENV_DATA_DIR} を消して"
            "自動ダウンロードを使ってください。"
        )

    if not is_writable(path.parent):
        raise PermissionError(
            f"{path.parent} に書き込めないので {spec.name} をダウンロードできません。"
            "書き込めるフォルダーを data_dir に指定してください。"
        )
    return download(spec, path, timeout)


def download(spec, path, timeout=DEFAULT_TIMEOUT):
    """``spec.urls`` を順に試し、正しいファイルを ``path`` に置く。

    いったん同じフォルダーの一時ファイルに書き、大きさと SHA-256 が合ってから
    ``os.replace`` で正式な名前にします。途中で失敗しても ``path`` には何も残りません。
    """
    # Imported here because only downloads need it, and it costs every new kernel
    # about 20 ms.
    import http.client

    failures = []
    for url in spec.urls:
        descriptor, temporary = tempfile.mkstemp(
            dir=path.parent, prefix=f".{path.name}.", suffix=".part"
        )
        os.close(descriptor)
        try:
            try:
                with open(temporary, "wb") as stream:
                    writer = SizeLimitedWriter(stream, spec.size)
                    http_get(url, writer, timeout, spec.size >= PROGRESS_MIN_BYTES)
                problem = find_problem(temporary, spec)
            except (OSError, ValueError, http.client.HTTPException) as error:
                # A malformed response (a bad status line or Content-Length) is
                # that mirror's failure, so the next mirror is still tried.
                problem = describe_error(error, timeout)
            if problem is None:
                os.chmod(temporary, FILE_MODE)
                os.replace(temporary, path)
                print(f"{spec.name} を {url} からダウンロードしました。")
                return path
            failures.append(f"  {url}: {problem}")
        finally:
            if os.path.exists(temporary):
                os.remove(temporary)

    raise ConnectionError(
        f"{spec.name} をどのダウンロード元からも取得できませんでした。\n"
        + "\n".join(failures)
        + "\nインターネットにつながっているか確かめて、もう一度実行してください。"
        f"つながらない場合は、ほかの PC でダウンロードしたファイルを {path} に置くか、"
        f"ファイルをそろえたフォルダーを環境変数 {ENV_DATA_DIR} に設定してください。"
    )


class FileTooLargeError(OSError):
    """サーバーが正しい大きさより多くのデータを送ってきたときのエラー。"""


class SizeLimitedWriter:
    """書き込みを ``limit`` バイトまでに制限するファイルのラッパー。

    終わりのないデータを送るサーバーがディスクを埋めないよう、上限を超えた時点で
    ``FileTooLargeError`` を送出してダウンロードを止めます。
    """

    def __init__(self, stream, limit):
        self.stream = stream
        self.limit = limit
        self.written = 0

    def write(self, data):
        self.written += len(data)
        if self.written > self.limit:
            raise FileTooLargeError(
                f"正しい大きさ {self.limit:,} バイトを超えるデータが送られてきました"
            )
        return self.stream.write(data)

    def flush(self):
        self.stream.flush()


def http_get(url, destination, timeout, progressbar):
    """``url`` の中身をファイルのようなオブジェクト ``destination`` に書く。

    pooch があればその HTTP ダウンローダー（進み具合の表示つき）を、なければ
    標準ライブラリの urllib を使います。通信の失敗は OSError として伝えます。
    """
    try:
        import pooch
    except ImportError:
        pooch = None

    if pooch is None:
        import shutil
        import urllib.request

        with urllib.request.urlopen(url, timeout=timeout) as response:
            shutil.copyfileobj(response, destination)
        return

    try:
        import tqdm  # noqa: F401  (pooch needs tqdm for its progress bar)
    except ImportError:
        progressbar = False
    downloader = pooch.HTTPDownloader(
        progressbar=progressbar, timeout=timeout, chunk_size=DOWNLOAD_CHUNK_BYTES
    )
    downloader(url, destination, None)


def describe_error(error, timeout):
    """通信のエラーを、何が起きたかがわかる短い日本語にする。"""
    if isinstance(error, FileTooLargeError):
        return str(error)
    status = getattr(getattr(error, "response", None), "status_code", None)
    status = status or getattr(error, "code", None)
    if isinstance(status, int):
        return f"HTTP {status} が返りました"
    timed_out = isinstance(error, TimeoutError) or "Timeout" in type(error).__name__
    if timed_out or "timed out" in str(error).lower():
        return f"{timeout} 秒待っても応答がありませんでした"
    text = str(error)
    if any(
        sign in text for sign in ("NameResolution", "Name or service", "getaddrinfo")
    ):
        return "サーバー名を解決できませんでした（インターネットにつながっていない可能性があります）"
    if "refused" in text.lower():
        return "接続を拒否されました"
    return f"接続できませんでした（{type(error).__name__}: {text[:200]}）"
