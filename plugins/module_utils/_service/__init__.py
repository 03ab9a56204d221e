# -*- coding: utf-8 -*-
# Copyright (c) ispsystem.dcimanager contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""Private to the ispsystem.dcimanager collection: the service operations the modules and fleet_apply share."""
