# @title 準備: mymodules を読み込めるようにする（このセルはそのまま実行してください）
# Colab では Google Drive の「Colab Notebooks/mymodules」を、ローカルの Jupyter では
# このノートブックのあるフォルダーから上にたどって見つかった mymodules を使います。
import subprocess
import sys
from pathlib import Path

COURSE_REPOSITORY = "{repository}"


def find_mymodules():
    searched = []
    try:
        from google.colab import drive
    except ImportError:
        drive = None
    if drive is not None:
        drive.mount("/content/drive")
        for my_drive in ("MyDrive", "My Drive"):
            searched.append(
                Path("/content/drive", my_drive, "Colab Notebooks/mymodules")
            )
    here = Path.cwd().resolve()
    searched += [folder / "mymodules" for folder in (here, *here.parents)]
    for folder in searched:
        if (folder / "softmax.py").is_file():
            return folder
    if drive is not None:
        # Drive に mymodules がなければ、教材のリポジトリから取得する。
        copy = Path("/content/nn-output-layer")
        if not copy.exists():
            subprocess.run(
                ["git", "clone", "-q", "--depth", "1", COURSE_REPOSITORY, str(copy)],
                check=True,
            )
        return copy / "mymodules"
    raise FileNotFoundError(
        "mymodules フォルダーが見つかりません。次の場所を探しました:\n"
        + "\n".join(f"  {folder}" for folder in searched)
        + "\nこのノートブックを教材のフォルダーの中で開くか、"
        "mymodules をノートブックと同じフォルダーにコピーしてください。"
    )


MYMODULES = find_mymodules()
if str(MYMODULES) not in sys.path:
    sys.path.append(str(MYMODULES))
print("mymodules:", MYMODULES)
