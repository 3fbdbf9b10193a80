"""What the Cityscapes family shares: the gtFine download (Cityscapes, Cityscapes-VPS and -DVPS read it)."""

from __future__ import annotations

from segprep.datasets.base import Download


GT = Download(
    "gtFine_trainvaltest.zip", "241 MB", "https://www.cityscapes-dataset.com/downloads/ (packageID=1)",
    "fine annotations, gtFine/{train,val,test}/{city}/{city}_{seq}_{frame}_gtFine_{polygons.json,labelIds.png,"
    "instanceIds.png,color.png} with README and license.txt at the root; its extracted gtFine/ folder (and "
    "license.txt beside it) is accepted too", login=True,
    tool=("csDownload", "--resume", "-d", "{raw}", "{filename}"),  # cityscapesScripts' downloader, asks for the account
    extracted=("gtFine",), home="cityscapes",
)
